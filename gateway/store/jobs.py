"""Background jobs (bulk retries, replays): queued by the API, run by any worker.

A worker claims a job with a lease and renews it with every batch it records; a worker
that dies leaves the job to another once the lease runs out, which resumes from the
job's cursor.
"""

from __future__ import annotations

from typing import Any

from gateway.domain.ids import new_id
from gateway.store.database import Database
from gateway.store.errors import NotFound
from gateway.store.records import Job, JobKind

__all__ = ["advance", "claim", "create", "finish", "get", "list_jobs"]


async def create(db: Database, kind: JobKind, params: dict[str, Any], total: int | None) -> Job:
    row = await db.fetchrow("insert_job", new_id("job"), kind, params, total)
    assert row is not None
    result: Job = Job.from_row(row)
    return result


async def get(db: Database, job_id: str) -> Job:
    row = await db.fetchrow("get_job", job_id)
    if row is None:
        raise NotFound(f"no job {job_id}")
    result: Job = Job.from_row(row)
    return result


async def list_jobs(db: Database, *, before: str | None, limit: int) -> list[Job]:
    """Newest first; ``before`` is the id of the last job of the previous page."""
    return [Job.from_row(r) for r in await db.fetch("list_jobs", before, limit)]


async def claim(db: Database, token: str, lease_seconds: float) -> Job | None:
    """The oldest job waiting (or abandoned), now leased to ``token``."""
    row = await db.fetchrow("claim_job", token, lease_seconds)
    return None if row is None else Job.from_row(row)


async def advance(
    db: Database,
    job_id: str,
    token: str,
    done: int,
    cursor: dict[str, Any] | None,
    lease_seconds: float,
) -> bool:
    """Add ``done`` to the progress, move the cursor, renew the lease. False: lease lost."""
    row = await db.fetchval("advance_job", job_id, token, done, cursor, lease_seconds)
    return row is not None


async def finish(db: Database, job_id: str, token: str, error: str | None = None) -> None:
    state = "failed" if error else "succeeded"
    await db.fetchval("finish_job", job_id, token, state, error)
