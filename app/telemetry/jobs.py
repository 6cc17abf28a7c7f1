"""The base layer's background job (APScheduler), started by ``create_app`` outside tests.

One scheduler per process is fine, also under gunicorn with several workers and
several replicas: the job asks the client to send what is due, and the lease in the
settings row lets one process of all of them send each base event. It runs
every ``TELEMETRY_BASE_INTERVAL_SECONDS`` (60 by default), so a first_seen
that could not be delivered (sink down, or setup done by a CLI that exited) goes out
within a minute of the sink coming back, and the day's heartbeat goes out from
03:00 UTC.
"""

from __future__ import annotations

import logging
from datetime import datetime

from flask import Flask

log = logging.getLogger("app.scheduler")

BASE_JOB_ID = "send_due_base_telemetry"


def send_due_base_telemetry(app: Flask, now: datetime | None = None) -> list[str]:
    """The job: first_seen or today's heartbeat if due (also refreshes installation.json)."""
    client = app.extensions.get("telemetry")
    if client is None:
        return []
    try:
        with app.app_context():
            return client.send_due_base_events(now)
    except Exception:  # a job that raises is only logged by APScheduler; say what it was
        log.warning("scheduler.base_telemetry_failed", exc_info=True)
        return []


def start_scheduler(app: Flask):
    """Start a background scheduler with the base-telemetry job (``init_app`` made the
    first try at start; the job follows every interval)."""
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.triggers.interval import IntervalTrigger

    interval = int(app.config.get("TELEMETRY_BASE_INTERVAL_SECONDS", 60))
    scheduler = BackgroundScheduler(timezone="UTC", daemon=True)
    scheduler.add_job(
        send_due_base_telemetry, IntervalTrigger(seconds=interval, timezone="UTC"),
        args=[app], id=BASE_JOB_ID, replace_existing=True, coalesce=True,
        max_instances=1,
    )
    scheduler.start()
    app.extensions["scheduler"] = scheduler
    return scheduler
