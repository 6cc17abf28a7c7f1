"""Apps wired to a real OTLP/HTTP receiver on 127.0.0.1 (``tests/support/otlp.py``)."""

from __future__ import annotations

import pytest

from app import telemetry
from tests.conftest import ADMIN_PASSWORD
from tests.support.otlp import start_receiver


@pytest.fixture
def otlp_receiver():
    receiver = start_receiver("ok")
    yield receiver
    receiver.stop()


@pytest.fixture
def telemetry_app_factory(app_factory, otlp_receiver):
    """Apps whose telemetry goes to the receiver; their clients are shut down after the test."""
    built = []

    def build(**overrides):
        config = {"GRAFANA_OTLP_ENDPOINT": otlp_receiver.url, "TELEMETRY_BATCH_DELAY_MS": 50,
                  "TELEMETRY_EXPORT_TIMEOUT_SECONDS": 1.0}
        config.update(overrides)
        app = app_factory(**config)
        built.append(app)
        return app

    yield build
    for app in built:
        telemetry.client(app).shutdown(1.0)


def client_of(app) -> telemetry.TelemetryClient:
    """The app's telemetry client (``app.extensions['telemetry']``)."""
    return telemetry.client(app)


def flush(app, timeout: float = 5.0) -> None:
    """Wait until everything the app queued was exported or failed; fail the test if not."""
    assert client_of(app).flush(timeout), "the telemetry queue did not drain"


def complete_setup(app, allow_analytics: bool = False, **extra) -> None:
    """First-run setup through the service, as the wizard and ``flask setup`` do."""
    from app.services.setup import complete_setup as setup

    with app.app_context():
        setup(admin_username="admin", admin_password=ADMIN_PASSWORD,
              allow_analytics=allow_analytics, **extra)


def analytics_event(name: str, description: str, **properties):
    """A product event as the catalogue declares one: the analytics layer, with ``source``."""
    from app.telemetry.catalogue import LAYER_ANALYTICS, SOURCE, Event

    return Event(name, description, LAYER_ANALYTICS, {"source": SOURCE, **properties})


def change_catalogue(monkeypatch) -> None:
    """An upgrade that sends more: a new event, and a new property on timer.started. An app
    built after this runs the newer catalogue (an opt-in given before is paused)."""
    from app.telemetry.catalogue import EVENTS, Prop

    started = EVENTS["timer.started"]
    monkeypatch.setitem(EVENTS, "timer.started", analytics_event(
        "timer.started", started.description, has_task=started.properties["has_task"],
        has_notes=Prop("bool", "Whether notes were typed.")))
    monkeypatch.setitem(EVENTS, "timesheet.saved",
                        analytics_event("timesheet.saved", "A week was saved."))
