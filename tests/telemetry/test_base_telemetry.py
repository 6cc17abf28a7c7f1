"""Base telemetry: first_seen once ever, one heartbeat per day, however many processes run.

Deliveries are recorded in the settings row only after the receiver acknowledged
them; a lease in the row lets one process of many send. Time is driven through
``send_due_base_events(now=...)`` (days in the future, so the wall clock's own
heartbeat of today never collides with them), never by sleeping.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Settings
from app.telemetry.client import FIRST_SEEN, HEARTBEAT
from app.telemetry.jobs import BASE_JOB_ID, start_scheduler
from tests.support.otlp import start_receiver

from .conftest import client_of, complete_setup, flush

ROOT = Path(__file__).resolve().parents[2]
_TODAY = datetime.now(timezone.utc).replace(hour=3, minute=0, second=0, microsecond=0)
DAY1 = _TODAY + timedelta(days=1)
DAY2 = _TODAY + timedelta(days=2)


def _file(app) -> dict:
    return json.loads((Path(app.config["DATA_DIR"]) / "installation.json").read_text())


def _row(app) -> Settings:
    with app.app_context():
        row = db.session.scalars(select(Settings).where(Settings.id == 1)).one()
        db.session.expunge(row)
        return row


def _heartbeat_days(receiver) -> list[str]:
    return [r["attributes"]["heartbeat_at"] for r in receiver.events("base")
            if r["event_name"] == HEARTBEAT]


def _send_todays_heartbeat_if_due(app) -> None:
    """After 03:00 UTC every new app sends today's heartbeat at start: get it out of the way."""
    client_of(app).send_due_base_events()
    flush(app)


def test_first_seen_is_sent_once_across_restarts_and_recorded_after_the_ack(
        telemetry_app_factory, otlp_receiver):
    first = telemetry_app_factory()
    complete_setup(first)
    flush(first)
    assert otlp_receiver.names() == [FIRST_SEEN]
    # The ack recorded it in the row; the client's next check of the row mirrors it.
    sent_at = client_of(first).state().first_seen_sent_at
    stored = _file(first)
    row = _row(first)
    assert row.first_seen_sent_at is not None and row.first_seen_claimed_until is None
    assert stored["first_seen_sent_at"] == sent_at is not None
    record = otlp_receiver.events()[0]
    assert record["resource"]["timetracker.install_id"] == stored["install_id"] == row.install_id
    assert record["attributes"]["first_seen_at"] == stored["first_seen_sent_at"]
    _send_todays_heartbeat_if_due(first)
    client_of(first).shutdown()

    results = []
    for _restart in range(2):
        again = telemetry_app_factory()
        results.append(client_of(again).send_due_base_events(now=DAY1))
        flush(again)
        client_of(again).shutdown()
    assert results == [[HEARTBEAT], []]
    assert otlp_receiver.names().count(FIRST_SEEN) == 1
    assert DAY1.strftime("%Y-%m-%dT03:00:00Z") in _heartbeat_days(otlp_receiver)
    assert _file(first)["last_heartbeat_day"] == DAY1.date().isoformat()


def test_an_undelivered_first_seen_is_not_marked_sent_and_is_retried_at_once(app_factory):
    refused = start_receiver("refused")
    app = app_factory(GRAFANA_OTLP_ENDPOINT=refused.url, TELEMETRY_BATCH_DELAY_MS=50,
                      TELEMETRY_EXPORT_TIMEOUT_SECONDS=0.5)
    client = client_of(app)
    try:
        complete_setup(app)
        flush(app)
        assert client.metrics.value("base", "failed") == 1
        row = _row(app)
        assert row.first_seen_sent_at is None
        assert row.first_seen_claimed_until is None  # the lease was given back
        assert _file(app)["first_seen_sent_at"] is None
        # Nothing waits for the lease to expire: the next try (the scheduler's) claims it again.
        assert client.send_due_base_events() == [FIRST_SEEN]
        flush(app)
        assert client.metrics.value("base", "failed") == 2
        assert _row(app).first_seen_sent_at is None
    finally:
        client.shutdown(1.0)


def test_a_heartbeat_is_never_sent_before_first_seen_was_acknowledged(telemetry_app_factory,
                                                                      otlp_receiver):
    otlp_receiver.mode = "error500"
    app = telemetry_app_factory(TELEMETRY_EXPORT_TIMEOUT_SECONDS=0.5)
    complete_setup(app)
    flush(app)
    # first_seen failed; the next call retries it rather than moving on to a heartbeat.
    assert client_of(app).send_due_base_events(now=DAY1) == [FIRST_SEEN]
    flush(app)
    otlp_receiver.mode = "ok"
    assert client_of(app).send_due_base_events(now=DAY1) == [FIRST_SEEN]
    flush(app)
    assert client_of(app).send_due_base_events(now=DAY1) == [HEARTBEAT]
    flush(app)
    assert otlp_receiver.names("base") == [FIRST_SEEN, HEARTBEAT]


_WORKER = """
import json, sys
from datetime import datetime, timezone
from app import create_app, events, telemetry
app = create_app(json.loads(sys.argv[1]))
client = telemetry.client(app)
print("RESULT", json.dumps("ready"), flush=True)
for line in sys.stdin:  # one action per line; the parent sends it to every process at once
    action = line.strip()
    if action == "consent":
        announced = []
        events.analytics_consent_changed.connect(lambda sender, **data: announced.append(data),
                                                 weak=False)
        with app.app_context():
            client.set_consent(True, changed_by=sys.argv[2])
        result = len(announced)  # 1: this process made the change; 0: it was already so
    else:
        result = client.send_due_base_events(now=datetime.fromisoformat(action))
        client.flush(5.0)  # acknowledged (or failed) before this round reports
    print("RESULT", json.dumps(result), flush=True)
client.shutdown(5.0)
"""


class _Processes:
    """``count`` real processes with their own app each; ``run(action)`` releases them all at
    once (a barrier: every process is up and waiting on stdin) and returns their results."""

    def __init__(self, config: dict, count: int = 3) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        env.pop("DO_NOT_TRACK", None)
        self.procs = [subprocess.Popen([sys.executable, "-c", _WORKER, json.dumps(config),
                                        f"worker-{n}"],
                                       cwd=ROOT, env=env, stdin=subprocess.PIPE,
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                      for n in range(count)]
        assert self._answers() == ["ready"] * count

    def _answers(self) -> list:
        answers = []
        for proc in self.procs:
            while True:  # the app logs JSON lines to stdout too: answers are marked
                line = proc.stdout.readline()
                if not line:
                    proc.wait(10)
                    raise AssertionError(f"worker exited {proc.returncode}:\n{proc.stderr.read()}")
                if line.startswith("RESULT "):
                    answers.append(json.loads(line[len("RESULT "):]))
                    break
        return answers

    def run(self, action: str) -> list:
        for proc in self.procs:
            proc.stdin.write(action + "\n")
            proc.stdin.flush()
        return self._answers()

    def close(self) -> None:
        errors = []
        for proc in self.procs:
            try:
                _out, err = proc.communicate(timeout=30)  # closes stdin: the workers exit
            except subprocess.TimeoutExpired:
                proc.kill()
                _out, err = proc.communicate()
            if proc.returncode != 0:
                errors.append(err)
        assert not errors, errors


def _worker_config(app, database_url, tmp_path, receiver_url) -> dict:
    return {"TESTING": True, "SQLALCHEMY_DATABASE_URI": database_url,
            "DATA_DIR": app.config["DATA_DIR"], "LOG_DIR": str(tmp_path / "logs"),
            "GRAFANA_OTLP_ENDPOINT": receiver_url, "TELEMETRY_BATCH_DELAY_MS": 50,
            "TELEMETRY_EXPORT_TIMEOUT_SECONDS": 2.0}


@pytest.mark.slow
def test_heartbeat_exactly_once_per_day_with_three_processes(telemetry_app_factory, otlp_receiver,
                                                             database_url, tmp_path):
    app = telemetry_app_factory()
    complete_setup(app)
    flush(app)
    _send_todays_heartbeat_if_due(app)
    before = len(otlp_receiver.records)
    workers = _Processes(_worker_config(app, database_url, tmp_path, otlp_receiver.url))
    try:
        # Day 1 at 03:00 and again at 15:00 (a misfire), then day 2: time moves, no sleep.
        assert sorted(workers.run(DAY1.isoformat()), key=len) == [[], [], [HEARTBEAT]]
        assert workers.run((DAY1 + timedelta(hours=12)).isoformat()) == [[], [], []]
        assert sorted(workers.run(DAY2.isoformat()), key=len) == [[], [], [HEARTBEAT]]
    finally:
        workers.close()
    new = otlp_receiver.records[before:]
    assert [r["event_name"] for r in new] == [HEARTBEAT, HEARTBEAT]
    assert [r["attributes"]["heartbeat_at"] for r in new] == [
        DAY1.strftime("%Y-%m-%dT03:00:00Z"), DAY2.strftime("%Y-%m-%dT03:00:00Z")]
    assert otlp_receiver.names().count(FIRST_SEEN) == 1
    # Sent by a worker, with its own random service.instance.id (never the host name).
    ours = client_of(app).resource_attributes()["service.instance.id"]
    for record in new:
        instance_id = record["resource"]["service.instance.id"]
        assert instance_id != ours and instance_id != socket.gethostname()
        uuid.UUID(instance_id, version=4)
    assert _row(app).last_heartbeat_day == DAY2.date()


@pytest.mark.slow
def test_concurrent_consent_writes_from_three_processes_have_exactly_one_winner(
        ready_app, database_url, tmp_path):
    with ready_app.app_context():
        db.session.execute(Settings.__table__.update().values(allow_analytics=None))
        db.session.commit()
    config = _worker_config(ready_app, database_url, tmp_path, "")
    config.pop("GRAFANA_OTLP_ENDPOINT")
    workers = _Processes(config)
    try:
        results = workers.run("consent")
    finally:
        workers.close()
    assert sorted(results) == [0, 0, 1]
    winner = f"worker-{results.index(1)}"
    row = _row(ready_app)
    assert (row.allow_analytics, row.analytics_changed_by) == (True, winner)


def test_the_scheduler_job_runs_at_the_configured_interval(app_factory):
    app = app_factory(TELEMETRY_BASE_INTERVAL_SECONDS=7)
    scheduler = start_scheduler(app)
    try:
        job = scheduler.get_job(BASE_JOB_ID)
        assert job.trigger.interval == timedelta(seconds=7)
    finally:
        scheduler.shutdown(wait=False)


def test_next_heartbeat_preview_is_the_payload_that_will_be_sent(telemetry_app_factory,
                                                                   otlp_receiver):
    app = telemetry_app_factory()
    complete_setup(app)
    flush(app)  # first_seen acknowledged: the heartbeat is what comes next
    _send_todays_heartbeat_if_due(app)
    client = client_of(app)
    preview = client.preview(now=DAY1 - timedelta(hours=1))
    assert preview["scheduled_at"] == DAY1.strftime("%Y-%m-%dT03:00:00Z")
    assert client.send_due_base_events(now=DAY1) == [HEARTBEAT]
    flush(app)
    sent = otlp_receiver.events("base")[-1]
    assert sent["event_name"] == HEARTBEAT
    attributes = {k: v for k, v in sent["attributes"].items() if k != "telemetry.layer"}
    assert attributes == preview["attributes"]
    assert sent["resource"] == preview["resource"]


def test_concurrent_first_seen_claims_have_one_winner_until_its_lease_ends_or_is_released(
        ready_app, database_url):
    """Four connections claim at once (threads released by a barrier, each with its own
    engine, as separate processes would): one lease; a second round while it holds: none;
    once released, one again; and past the lease's end a new claim may take over."""
    import threading

    from sqlalchemy import create_engine

    from app.telemetry import store

    lease = timedelta(seconds=60)
    engines = [create_engine(database_url) for _ in range(4)]

    def race(now: datetime) -> list:
        barrier = threading.Barrier(len(engines))
        results: list = [None] * len(engines)

        def claim(n: int) -> None:
            barrier.wait()
            results[n] = store.claim_first_seen(engines[n], now, lease)

        threads = [threading.Thread(target=claim, args=(n,)) for n in range(len(engines))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        return results

    try:
        now = datetime.now(timezone.utc)
        first = race(now)
        winners = [until for until in first if until is not None]
        assert winners == [now + lease]
        assert race(now + timedelta(seconds=30)) == [None] * 4  # the lease still holds
        store.release_first_seen(engines[0], winners[0])
        assert sum(until is not None for until in race(now + timedelta(seconds=31))) == 1
        # A holder that died (no confirm, no release): after its lease anyone may try again.
        assert sum(until is not None for until in race(now + timedelta(seconds=92))) == 1
    finally:
        for engine in engines:
            engine.dispose()
