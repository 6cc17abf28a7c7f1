"""Apps wired to a real OTLP/HTTP receiver on 127.0.0.1 (``tests/support/otlp.py``)."""

from __future__ import annotations

import pytest

from app.telemetry import service
from tests.support.otlp import start_receiver


@pytest.fixture
def otlp_receiver():
    receiver = start_receiver("ok")
    yield receiver
    receiver.stop()


@pytest.fixture
def telemetry_app_factory(app_factory, otlp_receiver):
    """Apps whose telemetry goes to the receiver; their sinks are shut down after the test."""
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
        service.shutdown(app=app)
