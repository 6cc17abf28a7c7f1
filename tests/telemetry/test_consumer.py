"""The request side of the one consumer: ``track`` only queues; consent is checked again at export.

Records are built and exported by the consumer thread, so what a request pays is an
append. These tests pin what makes that safe: a record keeps the time it was
tracked at, and an opt-out stops records already queued, also when another process
(another worker, the CLI) stored it in the settings row.
"""

from __future__ import annotations

import logging
import time

from app import telemetry
from tests.support.gunicorn import gunicorn_env, run_flask
from tests.support.polling import wait_for

from .conftest import client_of, complete_setup, flush
from .pseudonym import expected_pseudonym


def _opted_in_app(telemetry_app_factory, **config):
    # A long batch delay: nothing is exported until the test flushes.
    app = telemetry_app_factory(TELEMETRY_BATCH_DELAY_MS=60_000, **config)
    complete_setup(app, allow_analytics=True)
    flush(app)  # first_seen out of the way
    return app


def _track(app, count: int) -> list[bool]:
    with app.test_request_context("/", headers={"User-Agent": "Mozilla/5.0 Firefox/128.0"}):
        return [telemetry.track_event(7, "timer.started", {"has_task": bool(n % 2)})
                for n in range(count)]


def test_a_record_keeps_the_time_it_was_tracked_at(telemetry_app_factory, otlp_receiver):
    app = _opted_in_app(telemetry_app_factory)
    before = time.time_ns()
    assert _track(app, 3) == [True] * 3
    after = time.time_ns()
    flush(app)  # the export happens after `after`; the timestamps must not move with it
    stamps = [r["time_unix_nano"] for r in otlp_receiver.events("analytics")
              if r["event_name"] == "timer.started"]
    assert len(stamps) == 3
    assert all(before <= stamp <= after for stamp in stamps)


def test_an_opt_out_stops_events_already_queued(telemetry_app_factory, otlp_receiver):
    app = _opted_in_app(telemetry_app_factory)
    client = client_of(app)
    filtered = client.metrics.value("analytics", "filtered")
    assert _track(app, 5) == [True] * 5
    with app.app_context():
        client.set_consent(False, changed_by="admin")
    flush(app)
    assert "timer.started" not in otlp_receiver.names("analytics")
    assert client.metrics.value("analytics", "filtered") == filtered + 5
    assert client.consumer.pending() == 0


def test_another_processes_opt_out_stops_queued_events_and_new_ones_within_a_second(
        telemetry_app_factory, otlp_receiver, database_url, tmp_path):
    app = _opted_in_app(telemetry_app_factory)
    assert _track(app, 2) == [True, True]  # queued, and the per-event check is cached now
    env = gunicorn_env(tmp_path / "cli", database_url, workers=1, TELEMETRY_DISABLED="false",
                       DATA_DIR=app.config["DATA_DIR"])
    done = run_flask(env, "telemetry", "disable")
    stored_at = time.monotonic()
    assert "Detailed analytics disabled." in done.stdout
    assert wait_for(lambda: _track(app, 1) == [False], timeout=3.0)
    seen_after = time.monotonic() - stored_at
    assert seen_after <= 1.0 + 0.5, f"this process saw the opt-out only after {seen_after:.2f} s"
    flush(app)
    assert "timer.started" not in otlp_receiver.names("analytics")  # nor did the queued two leave


def test_events_keep_flowing_while_opted_in(telemetry_app_factory, otlp_receiver):
    app = _opted_in_app(telemetry_app_factory)
    assert _track(app, 40) == [True] * 40
    flush(app)
    received = [r for r in otlp_receiver.events("analytics") if r["event_name"] == "timer.started"]
    assert len(received) == 40
    assert {r["attributes"]["browser_family"] for r in received} == {"firefox"}
    # The internal id never leaves: a pseudonym keyed by this install's secret does.
    assert {r["attributes"]["user_id"] for r in received} == {expected_pseudonym(app, 7)}
    # Install, version and deployment are said once on the Resource, not on every record.
    install_id = client_of(app).state().install_id
    assert {r["resource"]["timetracker.install_id"] for r in received} == {install_id}
    assert not {"install_id", "app_version", "deployment_type"} & set(received[0]["attributes"])


def test_shutting_down_twice_is_quiet(telemetry_app_factory, otlp_receiver):
    """The atexit hook shuts down clients a test or a worker already shut down (fixed in
    0311285: a second shutdown warned, at interpreter exit onto a closed stream)."""
    app = _opted_in_app(telemetry_app_factory)
    client_of(app).shutdown(1.0)
    warnings = []

    class Collect(logging.Handler):
        def emit(self, record):
            if record.levelno >= logging.WARNING:
                warnings.append(record.getMessage())

    # Straight on the loggers that speak here (the app's logging setup owns the root
    # handlers and may have disabled loggers that existed before it ran).
    loggers = [logging.getLogger(name) for name in (
        "app.telemetry", "opentelemetry.exporter.otlp.proto.http._log_exporter")]
    handler = Collect()
    # The SDK's DuplicateFilter drops a message it logged in the last 20 s (the other database's
    # run of this test): off for the call under test, so each run sees what it causes.
    saved = [(logger.disabled, logger.level, list(logger.filters)) for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.disabled, logger.level, logger.filters = False, logging.WARNING, []
    try:
        client_of(app).shutdown(1.0)
    finally:
        for logger, (disabled, level, filters) in zip(loggers, saved):
            logger.removeHandler(handler)
            logger.disabled, logger.level, logger.filters = disabled, level, filters
    assert warnings == []


def test_the_outbox_keeps_the_newest_payloads_of_a_batch_the_receiver_took(
        telemetry_app_factory, otlp_receiver):
    from app.telemetry.outbox import OUTBOX_ROWS_PER_BATCH, recent

    app = _opted_in_app(telemetry_app_factory)
    with app.test_request_context("/"):
        for n in range(OUTBOX_ROWS_PER_BATCH + 30):
            telemetry.track_event(7, "time_entry.updated", {"duration_seconds": n})
    flush(app)  # one batch of 80
    assert len([r for r in otlp_receiver.events("analytics")
                if r["event_name"] == "time_entry.updated"]) == OUTBOX_ROWS_PER_BATCH + 30
    with app.app_context():
        kept = [row["payload"]["attributes"]["duration_seconds"]
                for row in recent(OUTBOX_ROWS_PER_BATCH + 30) if row["event"] == "time_entry.updated"]
    assert sorted(kept) == list(range(30, OUTBOX_ROWS_PER_BATCH + 30))
