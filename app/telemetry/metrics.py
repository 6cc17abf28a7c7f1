"""Telemetry pipeline metrics in ``/metrics``.

``tt_telemetry_events_total{layer,result}`` with result one of sent, dropped
(queue full), filtered (not allowed by consent or the catalogue), failed (the
sink refused or timed out); ``tt_telemetry_queue_size`` (records waiting to be
exported by this process).

Follows ``app/observability/metrics.py``: a registry per app when
``PROMETHEUS_MULTIPROC_DIR`` is unset, prometheus-client's multiprocess files
when it is set (the gauge is then summed over live workers).
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from prometheus_client import CollectorRegistry, Counter, Gauge

RESULTS = ("sent", "dropped", "filtered", "failed")


class TelemetryMetrics:
    """The two metric objects of one app."""

    def __init__(self, multiprocess: bool) -> None:
        self.registry = None if multiprocess else CollectorRegistry()
        self.events_total = Counter(
            "tt_telemetry_events", "Telemetry events by layer (base, analytics) and result "
            "(sent, dropped, filtered, failed).", ["layer", "result"], registry=self.registry,
        )
        self.queue_size = Gauge(
            "tt_telemetry_queue_size", "Telemetry records waiting to be exported.",
            registry=self.registry, multiprocess_mode="livesum",
        )

    def count(self, layer: str, result: str, amount: int = 1) -> None:
        self.events_total.labels(layer=layer, result=result).inc(amount)

    def value(self, layer: str, result: str) -> float:
        """Current count in this process (for the admin page and tests)."""
        return self.events_total.labels(layer=layer, result=result)._value.get()


class _RegistryCollector:
    def __init__(self, registry: CollectorRegistry) -> None:
        self._registry = registry

    def collect(self):
        return self._registry.collect()


def init_app(app: Flask) -> TelemetryMetrics:
    """Create the metrics and add them to ``/metrics`` when observability serves it."""
    metrics = TelemetryMetrics(multiprocess=bool(app.config.get("PROMETHEUS_MULTIPROC_DIR")))
    if metrics.registry is not None:
        _add_collector(app, _RegistryCollector(metrics.registry))
    return metrics


def _add_collector(app: Flask, collector: Any) -> None:
    try:
        from ..observability.metrics import add_collector
    except ImportError:  # observability not installed: the metrics exist, unexposed
        return
    add_collector(app, collector)
