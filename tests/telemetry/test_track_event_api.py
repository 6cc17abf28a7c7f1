"""``from app import track_event, log_event``: the documented entry points, through consent."""

from __future__ import annotations

import pytest

from app.telemetry import CatalogueViolation

from .conftest import complete_setup, flush


@pytest.mark.parametrize("opted_in", [False, True])
def test_track_event_sends_only_after_opt_in(telemetry_app_factory, otlp_receiver, opted_in):
    from app import log_event, track_event  # noqa: F401  (both importable from app)

    app = telemetry_app_factory()
    complete_setup(app, allow_analytics=opted_in)
    flush(app)
    otlp_receiver.requests.clear()
    with app.test_request_context("/"):
        assert track_event(7, "timer.started", {"has_task": True}) is opted_in
    flush(app)
    assert otlp_receiver.names() == (["timer.started"] if opted_in else [])


def test_track_event_refuses_a_name_outside_the_catalogue(telemetry_app_factory):
    from app import track_event

    app = telemetry_app_factory()
    complete_setup(app, allow_analytics=True)
    with app.test_request_context("/"), pytest.raises(CatalogueViolation):
        track_event(7, "timer.exploded")
