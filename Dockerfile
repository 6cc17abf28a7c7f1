# syntax=docker/dockerfile:1
# TimeTracker image: gunicorn serving app:create_app() as a non-root user.
# Nothing secret is baked in: analytics endpoints, DSNs and tokens are runtime
# environment only (docs/deployment.md, docs/ci-cd.md).

# --- build: install the pinned requirements into a virtualenv ------------------
FROM python:3.11-slim-bookworm AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
COPY requirements.txt /tmp/requirements.txt
RUN /opt/venv/bin/pip install --no-cache-dir -r /tmp/requirements.txt

# --- runtime: the virtualenv, the app and nothing else -------------------------
FROM python:3.11-slim-bookworm AS runtime

# The version shown in the UI, /healthz, tt_app_info and telemetry; CI passes the tag.
ARG APP_VERSION=0.0.0-dev
# stable for release images, dev for the per-commit images (base telemetry reports it).
ARG RELEASE_CHANNEL=stable

LABEL org.opencontainers.image.title="TimeTracker" \
      org.opencontainers.image.description="Self-hosted time tracker with built-in observability" \
      org.opencontainers.image.version="${APP_VERSION}"

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    FLASK_APP=app \
    APP_VERSION=${APP_VERSION} \
    RELEASE_CHANNEL=${RELEASE_CHANNEL} \
    DEPLOYMENT_TYPE=docker \
    HOST=0.0.0.0 \
    PORT=8000 \
    DATA_DIR=/data \
    LOG_DIR=/var/log/timetracker \
    PROMETHEUS_MULTIPROC_DIR=/tmp/timetracker-prometheus \
    XDG_RUNTIME_DIR=/tmp/timetracker-run

# A fixed uid/gid so volume ownership survives image rebuilds. XDG_RUNTIME_DIR is
# where gunicorn.conf.py puts this instance's control socket (gunicornc), named after a
# hash of DATA_DIR; the home directory is read-only.
RUN groupadd --system --gid 10001 timetracker \
    && useradd --system --uid 10001 --gid timetracker --home-dir /app --no-create-home \
       --shell /usr/sbin/nologin timetracker \
    && mkdir -p /data /var/log/timetracker /tmp/timetracker-prometheus /tmp/timetracker-run \
    && chown timetracker:timetracker /data /var/log/timetracker /tmp/timetracker-prometheus \
       /tmp/timetracker-run \
    && chmod 0700 /tmp/timetracker-run

COPY --from=build /opt/venv /opt/venv
WORKDIR /app
# Code stays owned by root: the app user can read it but not change it.
COPY app/ app/
COPY migrations/ migrations/
COPY gunicorn.conf.py ./

USER 10001:10001
VOLUME ["/data", "/var/log/timetracker"]
EXPOSE 8000

# slim has no curl: Python's urllib fails (non-zero exit) on anything but a 2xx.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '8000'), timeout=4)"]

# Migrations first (idempotent), then gunicorn replaces the shell as PID 1's child.
CMD ["sh", "-c", "flask --app app db upgrade && exec gunicorn --config gunicorn.conf.py"]
