"""The consumer finishes every record of a batch exactly once, whatever goes wrong in it.

A real consumer thread exporting to a real OTLP/HTTP receiver, with no app around it:
the batch holds records whose layer may not leave (finished as ``filtered``), a record
whose attributes cannot be built, and records that can. Finishing a record twice
drove the pending count below zero (so the next ``flush()`` returned before its record
was exported) and counted the gauge and the counters twice.
"""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from app.telemetry import logs_url
from app.telemetry.consumer import Consumer, OtlpExporter
from app.telemetry.metrics import TelemetryMetrics


class Unbuildable(Mapping):
    """Attributes that raise when a record is built from them (a programming error)."""

    def __getitem__(self, key):
        raise KeyError(key)

    def __len__(self):
        return 1

    def __iter__(self):
        raise RuntimeError("these attributes cannot be built into a record")


@pytest.fixture
def consumer(otlp_receiver):
    from opentelemetry.sdk.resources import Resource

    metrics = TelemetryMetrics(multiprocess=False)
    built = Consumer(OtlpExporter(logs_url(otlp_receiver.url), {}, 1.0), metrics=metrics,
                     resource=lambda: Resource({"service.name": "timetracker"}),
                     # Analytics may not leave (an opt-out), base may.
                     may_export=lambda layer: layer == "base", on_sent=lambda payloads: None,
                     # Only flush() wakes the thread: everything queued is one batch.
                     batch_delay_seconds=60.0)
    yield built
    built.shutdown(2.0)


def test_each_record_of_a_batch_is_finished_exactly_once(consumer, otlp_receiver):
    metrics = consumer._metrics
    results: dict[str, list[bool]] = {"refused": [], "unbuildable": [], "good": []}
    assert consumer.enqueue("analytics", "timer.started", {"has_task": True},
                            results["refused"].append)
    assert consumer.enqueue("analytics", "timer.stopped", {"duration_seconds": 5},
                            results["refused"].append)
    assert consumer.enqueue("base", "base_telemetry.heartbeat", Unbuildable(),
                            results["unbuildable"].append)
    assert consumer.enqueue("base", "base_telemetry.first_seen", {"platform": "linux"},
                            results["good"].append)
    assert consumer.flush(5.0)

    assert consumer.pending() == 0
    assert results == {"refused": [False, False], "unbuildable": [False], "good": [True]}
    assert metrics.value("analytics", "filtered") == 2
    assert metrics.value("analytics", "failed") == 0
    assert metrics.value("base", "failed") == 1
    assert metrics.value("base", "sent") == 1
    assert metrics.queue_size._value.get() == 0
    # A record that cannot be built costs only itself: the others of its batch still leave.
    assert otlp_receiver.names() == ["base_telemetry.first_seen"]

    # The next flush waits for its own record again.
    assert consumer.enqueue("base", "base_telemetry.first_seen", {"platform": "linux"})
    assert consumer.flush(5.0)
    assert otlp_receiver.names() == ["base_telemetry.first_seen"] * 2
    assert consumer.pending() == 0
    assert metrics.queue_size._value.get() == 0
