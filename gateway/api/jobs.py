"""``/api/v1/jobs``: background jobs (bulk retries, replays) and their progress."""

from __future__ import annotations

import dataclasses

import msgspec
from aiohttp import web

from gateway.api.common import json_response, page_params
from gateway.api.endpoint import add_endpoints, endpoint
from gateway.api.models import JobAccepted, JobOut, JobPage, PageQuery
from gateway.api.state import API
from gateway.http.problems import Problem
from gateway.store import NotFound, jobs
from gateway.store.records import Job

__all__ = ["HANDLERS", "add_routes", "job_accepted", "job_out"]


def job_out(job: Job) -> JobOut:
    fields = {f.name for f in msgspec.structs.fields(JobOut)}
    return JobOut(**{k: v for k, v in dataclasses.asdict(job).items() if k in fields})


def job_accepted(request: web.Request, job: Job) -> web.Response:
    """``202 Accepted`` with the job's id, and where to follow it."""
    prefix = request.path.split("/api/v1/", 1)[0] + "/api/v1"
    url = f"{prefix}/jobs/{job.id}"
    response = json_response(JobAccepted(job_id=job.id, status_url=url), status=202)
    response.headers["Location"] = url
    return response


@endpoint(
    "GET",
    "/jobs/{id}",
    scope="read",
    summary="A job and its progress",
    tag="jobs",
    response=JobOut,
    errors=[404],
)
async def get(request: web.Request) -> web.Response:
    job_id = request.match_info["id"]
    try:
        job = await jobs.get(request.app[API].db, job_id)
    except NotFound:
        raise Problem(404, f"no job {job_id}", kind="not-found") from None
    return json_response(job_out(job))


@endpoint(
    "GET",
    "/jobs",
    scope="read",
    summary="List background jobs",
    tag="jobs",
    query=PageQuery,
    response=JobPage,
)
async def list_(request: web.Request) -> web.Response:
    cursor, limit = page_params(request)
    rows = await jobs.list_jobs(request.app[API].db, before=cursor, limit=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    return json_response(
        JobPage(data=[job_out(j) for j in rows], next_cursor=rows[-1].id if more else None)
    )


HANDLERS = [list_, get]


def add_routes(app: web.Application, prefix: str) -> None:
    add_endpoints(app, prefix, HANDLERS)
