"""A receiver that hangs or answers 500: users see nothing, drops and failures are counted."""

from __future__ import annotations

import logging

from app import telemetry
from tests.conftest import ADMIN_PASSWORD, login

from .conftest import client_of, complete_setup, flush


def test_a_full_queue_drops_new_events_and_counts_them(telemetry_app_factory, otlp_receiver):
    otlp_receiver.mode = "hang"  # the first export blocks until the test releases it
    app = telemetry_app_factory(TELEMETRY_QUEUE_SIZE=5, TELEMETRY_EXPORT_TIMEOUT_SECONDS=10.0)
    complete_setup(app, allow_analytics=True)
    client = app.test_client()
    assert login(client, "admin", ADMIN_PASSWORD).status_code == 302
    for _ in range(20):
        assert client.get("/clients").status_code == 200
    state = client_of(app)
    # 5 records (first_seen, auth.login, page views) are pending; everything after was dropped.
    assert state.consumer.pending() == 5
    dropped = state.metrics.value("analytics", "dropped") + state.metrics.value("base", "dropped")
    assert dropped >= 15
    otlp_receiver.release.set()
    flush(app, 15.0)
    assert state.consumer.pending() == 0


def test_a_failing_receiver_never_reaches_the_user_and_failures_are_counted(
        telemetry_app_factory, otlp_receiver):
    otlp_receiver.mode = "error500"
    app = telemetry_app_factory(TELEMETRY_EXPORT_TIMEOUT_SECONDS=0.5)
    complete_setup(app, allow_analytics=True)
    client = app.test_client()
    assert login(client, "admin", ADMIN_PASSWORD).status_code == 302
    assert client.post_form("/clients/new", {"name": "Fault Tolerant Ltd"}).status_code == 302
    assert client.get("/clients").status_code == 200
    flush(app)
    state = client_of(app)
    assert state.metrics.value("analytics", "failed") >= 3  # login, client.created, page views
    assert state.metrics.value("analytics", "sent") == 0
    assert state.consumer.pending() == 0
    # A failed first_seen is not recorded as sent: it stays due for the next try.
    assert state.state().first_seen_sent_at is None


def test_a_failing_streak_is_logged_when_it_starts_and_when_it_ends(
        telemetry_app_factory, otlp_receiver, caplog):
    app = telemetry_app_factory(TELEMETRY_EXPORT_TIMEOUT_SECONDS=0.5)
    complete_setup(app, allow_analytics=True)
    flush(app)
    otlp_receiver.mode = "error500"
    caplog.clear()
    caplog.set_level(logging.INFO)

    def batches(count: int) -> None:
        for _ in range(count):
            with app.test_request_context("/"):
                assert telemetry.track_event(None, "auth.logout")
            flush(app)

    def lines(name: str) -> int:
        return sum(record.getMessage() == name for record in caplog.records)

    batches(4)
    assert client_of(app).metrics.value("analytics", "failed") >= 4
    assert lines("telemetry.export_failing") == 1
    assert lines("telemetry.export_recovered") == 0
    otlp_receiver.mode = "ok"
    batches(2)
    assert lines("telemetry.export_recovered") == 1
    otlp_receiver.mode = "error500"
    batches(1)
    assert lines("telemetry.export_failing") == 2
