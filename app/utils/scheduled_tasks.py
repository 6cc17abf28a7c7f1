"""Background jobs (APScheduler), started by ``create_app`` outside tests.

One scheduler per process is fine, also under gunicorn with several workers:
each job claims its unit of work under a file lock (the heartbeat claims the
day in installation.json), so running it in every worker sends it once.
"""

from __future__ import annotations

import logging
from datetime import datetime

from flask import Flask

log = logging.getLogger("app.scheduler")

HEARTBEAT_JOB_ID = "send_base_telemetry_heartbeat"


def send_base_telemetry_heartbeat(app: Flask, now: datetime | None = None) -> bool:
    """The daily job: today's base heartbeat (and first_seen if it never went out)."""
    from ..telemetry import service

    with app.app_context():
        _sync_setup_flag(app)
        return service.send_base_heartbeat(now=now, app=app)


def _sync_setup_flag(app: Flask) -> None:
    # installation.json may have been repaired (or lost) since setup: the database knows.
    from ..services.settings import get_settings
    from ..telemetry import service
    from dataclasses import replace

    state = app.extensions.get(service.EXTENSION_KEY)
    if state is None or state.kill_switch:
        return
    if get_settings().is_setup_complete and not state.installation.read().setup_complete:
        try:
            state.installation.update(lambda current: replace(current, setup_complete=True))
        except Exception:
            log.warning("scheduler.setup_flag_not_synced", exc_info=True)


def start_scheduler(app: Flask):
    """Start a background scheduler with the heartbeat at 03:00 UTC."""
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.triggers.cron import CronTrigger

    from ..telemetry.service import HEARTBEAT_HOUR_UTC

    scheduler = BackgroundScheduler(timezone="UTC", daemon=True)
    scheduler.add_job(
        send_base_telemetry_heartbeat, CronTrigger(hour=HEARTBEAT_HOUR_UTC, minute=0, timezone="UTC"),
        args=[app], id=HEARTBEAT_JOB_ID, replace_existing=True, coalesce=True,
        misfire_grace_time=6 * 3600, max_instances=1,
    )
    scheduler.start()
    app.extensions["scheduler"] = scheduler
    return scheduler
