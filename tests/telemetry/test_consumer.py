"""The request-side half of the sink: ``emit`` only queues; consent is checked again at export.

Events are turned into SDK log records by the handoff thread, so what a request pays
is a deque append. These tests pin the behaviour that makes that safe: a record keeps
the time it was tracked at, and an opt-out stops records already queued, also when
another worker (another Installation on the same DATA_DIR) wrote it.
"""

from __future__ import annotations

import time

from app import track_event
from app.telemetry import service
from app.telemetry.installation import Installation
from tests.conftest import ADMIN_PASSWORD


def _opted_in_app(telemetry_app_factory, **config):
    from app.services.setup import complete_setup

    # A long batch delay: nothing is exported until the test flushes.
    app = telemetry_app_factory(TELEMETRY_BATCH_DELAY_MS=60_000, **config)
    with app.app_context():
        complete_setup(admin_username="admin", admin_password=ADMIN_PASSWORD, allow_analytics=True)
    service.flush(5.0, app=app)  # first_seen and setup events out of the way
    return app


def _track(app, count: int) -> list[bool]:
    with app.test_request_context("/", headers={"User-Agent": "Mozilla/5.0 Firefox/128.0"}):
        return [track_event("timer.started", {"has_task": bool(n % 2)}, user_id=7)
                for n in range(count)]


def test_a_record_keeps_the_time_it_was_tracked_at(telemetry_app_factory, otlp_receiver):
    app = _opted_in_app(telemetry_app_factory)
    before = time.time_ns()
    assert _track(app, 3) == [True] * 3
    after = time.time_ns()
    time.sleep(0.3)  # the handoff happens later; the timestamp must not move with it
    assert service.flush(5.0, app=app)
    stamps = [r["time_unix_nano"] for r in otlp_receiver.events("analytics")
              if r["event_name"] == "timer.started"]
    assert len(stamps) == 3
    assert all(before <= stamp <= after for stamp in stamps)


def test_an_opt_out_stops_events_already_queued(telemetry_app_factory, otlp_receiver):
    app = _opted_in_app(telemetry_app_factory)
    state = app.extensions["telemetry"]
    filtered = state.metrics.value("analytics", "filtered")
    assert _track(app, 5) == [True] * 5
    with app.app_context():
        service.set_telemetry_preference(False, changed_by="admin")
    assert service.flush(5.0, app=app)
    assert "timer.started" not in otlp_receiver.names("analytics")
    assert state.metrics.value("analytics", "filtered") == filtered + 5
    assert state.sink.pending() == 0


def test_another_workers_opt_out_stops_queued_events_and_new_ones_soon(
        telemetry_app_factory, otlp_receiver, monkeypatch):
    monkeypatch.setattr(service, "CONSENT_RECHECK_SECONDS", 0.2)
    app = _opted_in_app(telemetry_app_factory)
    assert _track(app, 2) == [True, True]  # the per-event check is cached now
    other_worker = Installation(app.config["DATA_DIR"])
    other_worker.update(lambda current: current.__class__(
        **{**current.__dict__, "telemetry_enabled": False, "telemetry_changed_by": "other"}))
    time.sleep(0.25)  # past the re-check interval of this worker's cache
    assert _track(app, 2) == [False, False]  # the gate has seen the file change
    assert service.flush(5.0, app=app)
    assert "timer.started" not in otlp_receiver.names("analytics")  # nor did the queued two leave


def test_events_keep_flowing_while_opted_in(telemetry_app_factory, otlp_receiver):
    app = _opted_in_app(telemetry_app_factory)
    assert _track(app, 40) == [True] * 40
    assert service.flush(5.0, app=app)
    received = [r for r in otlp_receiver.events("analytics") if r["event_name"] == "timer.started"]
    assert len(received) == 40
    assert {r["attributes"]["browser_family"] for r in received} == {"firefox"}
    assert {r["attributes"]["user_id"] for r in received} == {7}
