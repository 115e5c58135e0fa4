# syntax=docker/dockerfile:1.7
#
# webhook-gateway container image.
#
#   docker build -t webhook-gateway:0.1.0 .
#   docker run --rm -p 8080:8080 \
#     -e GATEWAY_DATABASE__URL=postgresql://user:pass@db:5432/gateway webhook-gateway:0.1.0
#
# The image expects an external PostgreSQL in GATEWAY_DATABASE__URL. Without one the
# program starts its embedded PostgreSQL in GATEWAY_DATABASE__DATA_DIR (and says so in
# its log): fine for a try-out, not for production.

ARG PYTHON_IMAGE=python:3.11.11-slim-bookworm

# ---------------------------------------------------------------------------------------
# Stage 1: build wheels for the package and all of its dependencies, at the versions
# requirements/ locks (`make lock` writes them).
# ---------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

# A compiler only for dependencies without a prebuilt wheel on this platform; it never
# reaches the final image.
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /src
# Every dependency, and the build backend, at the version its lock names: each file is
# checked against the lock's hashes before anything uses it.
COPY requirements/runtime.lock requirements/build.lock ./requirements/
RUN pip wheel --require-hashes -r requirements/runtime.lock -w /wheels \
 && pip wheel --require-hashes -r requirements/build.lock -w /wheels
COPY pyproject.toml README.md ./
COPY gateway ./gateway
COPY migrations ./migrations
# The package, built and resolved against those wheels alone: nothing unlocked comes in.
ENV PIP_NO_INDEX=1 \
    PIP_FIND_LINKS=/wheels
RUN pip wheel . -w /wheels

# ---------------------------------------------------------------------------------------
# Stage 2: the runtime, with only the installed package.
# ---------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

ARG PYTHON_IMAGE
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=unknown

LABEL org.opencontainers.image.title="webhook-gateway" \
      org.opencontainers.image.description="Self-hosted webhook relay: durable ingest on PostgreSQL, signed fan-out with retries" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.vendor="webhook-gateway" \
      org.opencontainers.image.base.name="docker.io/library/${PYTHON_IMAGE}"

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    GATEWAY_DATABASE__DATA_DIR=/var/lib/webhook-gateway

RUN groupadd --system --gid 10001 gateway \
 && useradd --system --uid 10001 --gid 10001 --no-create-home \
      --home-dir /var/lib/webhook-gateway --shell /usr/sbin/nologin gateway \
 && install -d -o 10001 -g 10001 -m 0750 /var/lib/webhook-gateway

# The wheels are bind-mounted from the build stage, so they never land in a layer. The
# image carries the broker extras (RabbitMQ, SQS) and tracing's (OpenTelemetry); a plain
# pip install leaves them out.
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-index --find-links=/wheels "webhook-gateway[rabbitmq,sqs,tracing]" \
 && rm -rf /root/.cache

WORKDIR /var/lib/webhook-gateway
USER 10001:10001

# 8080: public ingress (webhooks, /healthz). 8081: admin (/api/v1, /metrics, /readyz);
# the program binds it to 127.0.0.1 unless GATEWAY_ADMIN__HOST says otherwise.
EXPOSE 8080 8081

# Probes the ingress listener; a container serving another role can point it elsewhere
# with WEBHOOK_GATEWAY_HEALTHCHECK_URL (e.g. http://127.0.0.1:8081/healthz).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(os.environ.get('WEBHOOK_GATEWAY_HEALTHCHECK_URL', 'http://127.0.0.1:8080/healthz'), timeout=4)"]

ENTRYPOINT ["webhook-gateway"]
CMD ["serve"]
