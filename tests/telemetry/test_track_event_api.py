"""``from app import track_event, log_event``: the documented entry points, through consent."""

from __future__ import annotations

import pytest

from app.telemetry import CatalogueViolation

from .conftest import complete_setup, flush


def test_track_event_is_refused_without_opt_in(telemetry_app_factory, otlp_receiver):
    from app import log_event, track_event  # noqa: F401  (both importable from app)

    app = telemetry_app_factory()
    complete_setup(app, allow_analytics=False)
    flush(app)
    otlp_receiver.requests.clear()
    with app.test_request_context("/"):
        assert track_event(7, "timer.started", {"has_task": True}) is False
    flush(app)
    assert "timer.started" not in otlp_receiver.names()


def test_track_event_reaches_the_receiver_after_opt_in(telemetry_app_factory, otlp_receiver):
    from app import track_event

    app = telemetry_app_factory()
    complete_setup(app, allow_analytics=True)
    flush(app)
    otlp_receiver.requests.clear()
    with app.test_request_context("/"):
        assert track_event(7, "timer.started", {"has_task": True}) is True
    flush(app)
    assert otlp_receiver.names() == ["timer.started"]


def test_track_event_refuses_a_name_outside_the_catalogue(telemetry_app_factory):
    from app import track_event

    app = telemetry_app_factory()
    complete_setup(app, allow_analytics=True)
    with app.test_request_context("/"), pytest.raises(CatalogueViolation):
        track_event(7, "timer.exploded")
