"""One bounded queue and one consumer thread per process: the only way out of the process.

``enqueue`` runs in requests, so it appends a tuple and returns (a few µs): no
record is built, nothing is encoded, nothing waits. The consumer thread wakes every
batch delay (or when a batch is full), asks ``may_export`` per layer just before it
exports (an opt-out stops records already queued), builds the OTLP log records on
the Resource of this install, exports them with the OpenTelemetry SDK's OTLP/HTTP
exporter, and then, only for what the receiver acknowledged, writes the outbox and
runs the records' ``on_result`` callbacks (the base layer records its deliveries
there). The shape is posthog-python's ``Client`` + ``Consumer``; there is no second
queue (the SDK's ``BatchLogRecordProcessor`` is not used, only its exporter).

When the queue holds ``max_queue_size`` records, new ones are dropped and counted
(``tt_telemetry_events_total{result="dropped"}``), never the oldest silently.
``flush`` and ``shutdown`` are bounded. After ``os.fork`` the child starts with an
empty queue and its own thread (records queued in the parent are the parent's).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import weakref
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

from .metrics import TelemetryMetrics

log = logging.getLogger("app.telemetry")

LAYER_ATTRIBUTE = "telemetry.layer"
SCOPE_NAME = "timetracker.telemetry"

OnResult = Callable[[bool], None]


@dataclass(frozen=True)
class Pending:
    """One queued event: what it is, when it happened, and who wants to hear how it went."""

    time_ns: int
    layer: str
    name: str
    attributes: Mapping[str, Any]
    on_result: OnResult | None = None


def payload_dict(name: str, layer: str, attributes: Mapping[str, Any],
                 resource: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The JSON shown in the outbox, the debug log and the admin page for one record."""
    payload = {"event": name, "layer": layer, "attributes": dict(attributes)}
    if resource is not None:
        payload["resource"] = dict(resource)
    return payload


class DebugExporter:
    """``TELEMETRY_DEBUG=1``: each record goes to the JSON log instead of the network."""

    kind = "debug"
    url = None

    def export(self, records: Sequence[Any]) -> bool:
        for record in records:
            attrs = dict(record.log_record.attributes or {})
            layer = attrs.pop(LAYER_ATTRIBUTE, "analytics")
            payload = payload_dict(record.log_record.event_name, layer, attrs,
                                   dict(record.resource.attributes))
            log.info("telemetry.debug_payload", extra={"telemetry_payload": json.dumps(payload)})
        return True

    def shutdown(self) -> None:
        return None


class OtlpExporter:
    """OTLP/HTTP protobuf through the SDK's exporter, with a short timeout."""

    kind = "otlp"

    def __init__(self, url: str, headers: Mapping[str, str], timeout_seconds: float) -> None:
        from opentelemetry.exporter.otlp.proto.http import Compression
        from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter

        self.url = url
        self._inner = OTLPLogExporter(endpoint=url, headers=dict(headers), timeout=timeout_seconds,
                                      compression=Compression.NoCompression)

    def export(self, records: Sequence[Any]) -> bool:
        from opentelemetry.sdk._logs.export import LogRecordExportResult

        return self._inner.export(records) == LogRecordExportResult.SUCCESS

    def shutdown(self) -> None:
        self._inner.shutdown()


_consumers: "weakref.WeakSet[Consumer]" = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for consumer in list(_consumers):
        consumer._reset_after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


class Consumer:
    """The bounded queue and its export thread (see the module docstring)."""

    def __init__(self, exporter, *, metrics: TelemetryMetrics,
                 resource: Callable[[], Any],
                 may_export: Callable[[str], bool],
                 on_sent: Callable[[list[dict]], None],
                 max_queue_size: int = 1000, batch_size: int = 512,
                 batch_delay_seconds: float = 1.0, sent_kept: int | None = None) -> None:
        self.exporter = exporter
        self._metrics = metrics
        self._resource = resource
        self._may_export = may_export
        self._on_sent = on_sent
        self._sent_kept = sent_kept  # how many of a batch's newest payloads on_sent keeps
        self._max_queue_size = max_queue_size
        self._batch_size = max(1, min(batch_size, max_queue_size))
        self._delay = batch_delay_seconds
        self._failing = False
        self._shut_down = False
        self._reset_after_fork()
        self._pid = 0  # the thread starts with the first record, in whichever process
        _consumers.add(self)

    def _reset_after_fork(self) -> None:
        self._queue: deque[Pending] = deque()
        self._pending = 0  # queued + being exported
        self._cond = threading.Condition()
        self._wake = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._pid = 0

    # -- the request side ------------------------------------------------------

    def enqueue(self, layer: str, name: str, attributes: Mapping[str, Any],
                on_result: OnResult | None = None) -> bool:
        """Queue one record; False (and counted as dropped) when full or stopped. Never blocks
        on I/O."""
        with self._cond:
            if self._pending >= self._max_queue_size or self._stopping:
                self._metrics.count(layer, "dropped")
                return False
            self._pending += 1
            self._queue.append(Pending(time.time_ns(), layer, name, attributes, on_result))
        self._metrics.queue_size.inc()
        if self._pid != os.getpid():
            self._start_thread()
        elif len(self._queue) >= self._batch_size:
            self._wake.set()
        return True

    def pending(self) -> int:
        return self._pending

    def _start_thread(self) -> None:
        with self._cond:
            if self._pid == os.getpid():
                return
            self._pid = os.getpid()
            self._thread = threading.Thread(target=self._run, name="telemetry-consumer",
                                            daemon=True)
            self._thread.start()

    # -- the consumer thread ---------------------------------------------------

    def _run(self) -> None:
        while True:
            self._wake.wait(self._delay)
            self._wake.clear()
            self._drain()
            if self._stopping:
                self._drain()
                return

    def _drain(self) -> None:
        while True:
            batch: list[Pending] = []
            while len(batch) < self._batch_size:
                try:
                    batch.append(self._queue.popleft())
                except IndexError:
                    break
            if not batch:
                return
            try:
                self._export(batch)
            except Exception:  # never let the thread die: count and carry on
                log.warning("telemetry.export_error", exc_info=True)
                # _export took off the batch what it finished: each record is finished once.
                self._finish(batch, success=False)

    def _export(self, batch: list[Pending]) -> None:
        """Export one batch. Each record leaves ``batch`` when it is finished, so what the
        caller's last-resort handler finds there is only what is still open."""
        allowed = self._allowed_layers({item.layer for item in batch})
        refused = [item for item in batch if not allowed[item.layer]]
        batch[:] = [item for item in batch if allowed[item.layer]]
        self._finish(refused, success=False, result="filtered")
        if not batch:
            return
        resource = self._resource()
        records, unbuilt = self._records(batch, resource)
        self._finish(unbuilt, success=False)
        if not batch:
            return
        try:
            success = bool(self.exporter.export(records))
        except Exception:
            log.warning("telemetry.export_error", exc_info=True)
            success = False
        self._log_streak(success)
        _log_batch(batch, success)
        if success:
            self._write_outbox(batch, resource)
        exported = batch[:]
        batch.clear()
        self._finish(exported, success=success)

    def _records(self, batch: list[Pending], resource) -> tuple[list[Any], list[Pending]]:
        """The OTLP records of ``batch``; a record that cannot be built is taken off it and
        returned apart (it costs only itself, not the rest of its batch)."""
        records, built, unbuilt = [], [], []
        for item in batch:
            try:
                records.append(_record(item, resource))
            except Exception:
                log.warning("telemetry.record_error", extra={"event_name": item.name},
                            exc_info=True)
                unbuilt.append(item)
            else:
                built.append(item)
        batch[:] = built
        return records, unbuilt

    def _allowed_layers(self, layers: set[str]) -> dict[str, bool]:
        allowed = {}
        for layer in layers:
            try:
                allowed[layer] = bool(self._may_export(layer))
            except Exception:  # cannot tell: treat as not allowed
                log.warning("telemetry.consent_check_error", exc_info=True)
                allowed[layer] = False
        return allowed

    def _log_streak(self, success: bool) -> None:
        # The exporter logs each failure itself (deduplicated over 20 s); this says when a
        # failing streak starts and ends, and the counters in /metrics have every batch.
        if success == self._failing:
            self._failing = not success
            if success:
                log.info("telemetry.export_recovered")
            else:
                log.warning("telemetry.export_failing", extra={
                    "hint": "failures are counted in tt_telemetry_events_total{result=\"failed\"}"})

    def _write_outbox(self, batch: list[Pending], resource) -> None:
        resource_attributes = dict(resource.attributes)
        try:
            # Only the payloads the outbox keeps are built (building all was most of the
            # outbox's cost per event).
            kept = batch[-self._sent_kept:] if self._sent_kept else batch
            self._on_sent([payload_dict(item.name, item.layer, item.attributes, resource_attributes)
                           for item in kept])
        except Exception:
            log.warning("telemetry.outbox_error", exc_info=True)

    def _finish(self, items: list[Pending], *, success: bool, result: str | None = None) -> None:
        if not items:
            return
        for item in items:
            self._metrics.count(item.layer, result or ("sent" if success else "failed"))
            if item.on_result is not None:
                try:
                    item.on_result(success)
                except Exception:
                    log.warning("telemetry.result_callback_error",
                                extra={"event_name": item.name}, exc_info=True)
        with self._cond:
            self._pending -= len(items)
            self._cond.notify_all()
        self._metrics.queue_size.dec(len(items))

    # -- lifecycle -------------------------------------------------------------

    def flush(self, timeout_seconds: float) -> bool:
        """Wait until everything queued so far was exported (or failed); bounded."""
        if self._pid != os.getpid() and self._pending:
            self._start_thread()
        self._wake.set()
        with self._cond:
            return self._cond.wait_for(lambda: self._pending <= 0, timeout_seconds)

    def shutdown(self, timeout_seconds: float) -> None:
        """Export what is queued (bounded by ``timeout_seconds``), then stop the thread.

        Idempotent: the atexit hook may come after a worker's or a test's own shutdown.
        """
        with self._cond:
            if self._shut_down:
                return
            self._shut_down = True
        self.flush(timeout_seconds)
        with self._cond:
            self._stopping = True
        self._wake.set()
        thread = self._thread
        if thread is not None and thread.is_alive() and self._pid == os.getpid():
            thread.join(timeout_seconds)
        try:
            self.exporter.shutdown()
        except Exception:
            log.warning("telemetry.shutdown_error", exc_info=True)


def _log_batch(batch: list[Pending], success: bool) -> None:
    # What left (or failed to), as counts per event name: never a payload (Home Assistant's
    # submission log does the same).
    counts: dict[str, int] = {}
    for item in batch:
        counts[item.name] = counts.get(item.name, 0) + 1
    log.info("telemetry.batch_exported" if success else "telemetry.batch_failed",
             extra={"records": len(batch), "events": counts})


def _record(item: Pending, resource):
    from opentelemetry._logs import LogRecord
    from opentelemetry.sdk._logs import ReadableLogRecord

    return ReadableLogRecord(
        log_record=LogRecord(timestamp=item.time_ns, observed_timestamp=item.time_ns,
                             body=item.name, event_name=item.name,
                             attributes={LAYER_ATTRIBUTE: item.layer, **item.attributes}),
        resource=resource, instrumentation_scope=_scope(),
    )


_SCOPE = None


def _scope():
    global _SCOPE
    if _SCOPE is None:
        from opentelemetry.sdk.util.instrumentation import InstrumentationScope

        _SCOPE = InstrumentationScope(SCOPE_NAME)
    return _SCOPE
