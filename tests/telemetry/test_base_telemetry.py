"""Base telemetry: first_seen once ever, one heartbeat per day, however many workers run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

from app.telemetry import service
from app.utils.scheduled_tasks import send_base_telemetry_heartbeat
from tests.conftest import ADMIN_PASSWORD

ROOT = Path(__file__).resolve().parents[2]
DAY1 = datetime(2026, 11, 24, 3, 0, tzinfo=timezone.utc)


def _setup(app, allow_analytics=False):
    from app.services.setup import complete_setup

    with app.app_context():
        complete_setup(admin_username="admin", admin_password=ADMIN_PASSWORD,
                       allow_analytics=allow_analytics)


def test_first_seen_is_sent_once_across_restarts(telemetry_app_factory, otlp_receiver):
    first = telemetry_app_factory()
    _setup(first)
    assert service.flush(5.0, app=first)
    assert otlp_receiver.names() == ["base_telemetry.first_seen"]
    service.shutdown(app=first)
    for _restart in range(2):
        again = telemetry_app_factory()
        with again.app_context():
            assert service.send_base_first_seen(app=again) is False
        assert send_base_telemetry_heartbeat(again, now=DAY1) in (True, False)
        service.flush(5.0, app=again)
        service.shutdown(app=again)
    assert otlp_receiver.names().count("base_telemetry.first_seen") == 1
    assert otlp_receiver.names().count("base_telemetry.heartbeat") == 1
    first_seen = otlp_receiver.events()[0]["attributes"]
    stored = json.loads((Path(first.config["DATA_DIR"]) / "installation.json").read_text())
    assert first_seen["install_id"] == stored["install_id"]
    assert first_seen["first_seen_at"] == stored["first_seen_sent_at"]


_WORKER = """
import json, sys
from datetime import datetime
from app import create_app
from app.telemetry import service
from app.utils.scheduled_tasks import send_base_telemetry_heartbeat
cfg = json.loads(sys.argv[1])
app = create_app(cfg)
sent = send_base_telemetry_heartbeat(app, now=datetime.fromisoformat(sys.argv[2]))
service.shutdown(app=app)
print(json.dumps({"sent": sent}))
"""


def _run_workers(config: dict, now: datetime, count: int = 3) -> list[bool]:
    """``count`` real processes run the scheduler job at the same moment."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("DO_NOT_TRACK", None)
    procs = [subprocess.Popen([sys.executable, "-c", _WORKER, json.dumps(config), now.isoformat()],
                              cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(count)]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        results.append(json.loads(out.strip().splitlines()[-1])["sent"])
    return results


def test_heartbeat_exactly_once_per_day_with_three_workers(telemetry_app_factory, otlp_receiver,
                                                           database_url, tmp_path):
    app = telemetry_app_factory()
    _setup(app)
    service.flush(5.0, app=app)
    config = {"TESTING": True, "SQLALCHEMY_DATABASE_URI": database_url,
              "DATA_DIR": app.config["DATA_DIR"], "LOG_DIR": str(tmp_path / "logs"),
              "GRAFANA_OTLP_ENDPOINT": otlp_receiver.url, "TELEMETRY_BATCH_DELAY_MS": 50}
    # Day 1 at 03:00 and again at 15:00 (a restart, a misfire), then day 2: time moves, no sleep.
    assert sorted(_run_workers(config, DAY1)) == [False, False, True]
    assert _run_workers(config, DAY1 + timedelta(hours=12)) == [False, False, False]
    assert sorted(_run_workers(config, DAY1 + timedelta(days=1))) == [False, False, True]
    heartbeats = [r for r in otlp_receiver.events() if r["event_name"] == "base_telemetry.heartbeat"]
    assert [h["attributes"]["heartbeat_at"] for h in heartbeats] == [
        "2026-11-24T03:00:00Z", "2026-11-25T03:00:00Z"]
    assert otlp_receiver.names().count("base_telemetry.first_seen") == 1
    # Each worker is its own process: its own random service.instance.id, never the hostname.
    instance_ids = {h["resource"]["service.instance.id"] for h in heartbeats}
    assert len(instance_ids) == 2


def test_the_scheduler_job_is_registered_under_its_name(app_factory):
    from app.utils.scheduled_tasks import HEARTBEAT_JOB_ID, start_scheduler

    app = app_factory()
    scheduler = start_scheduler(app)
    try:
        job = scheduler.get_job(HEARTBEAT_JOB_ID)
        assert job.id == "send_base_telemetry_heartbeat"
        assert str(job.trigger) == "cron[hour='3', minute='0']"
    finally:
        scheduler.shutdown(wait=False)


def test_next_heartbeat_preview_is_the_payload_that_will_be_sent(telemetry_app_factory,
                                                                   otlp_receiver):
    app = telemetry_app_factory()
    _setup(app)
    service.flush(5.0, app=app)  # first_seen (sent in the background) has been claimed
    before = DAY1 - timedelta(hours=1)
    with app.app_context():
        preview = service.next_heartbeat_preview(now=before)
        assert preview["scheduled_at"] == "2026-11-24T03:00:00Z"
        assert service.send_base_heartbeat(now=DAY1)
    service.flush(5.0, app=app)
    sent = [r for r in otlp_receiver.events() if r["event_name"] == "base_telemetry.heartbeat"][0]
    attributes = {k: v for k, v in sent["attributes"].items()
                  if k not in ("event.name", "telemetry.layer")}
    expected = dict(preview["attributes"])
    # last_seen_at is "when built": the preview is built for 03:00 too.
    assert attributes == expected
