"""Where telemetry records go: OTLP/HTTP (Grafana Cloud or any collector), or the JSON log.

Built only when there is somewhere to send to (``GRAFANA_OTLP_ENDPOINT``) or
``TELEMETRY_DEBUG`` is on, and never under a kill switch: without a sink no
exporter, session or socket exists. The OpenTelemetry SDK does the transport
(``LoggerProvider`` → ``BatchLogRecordProcessor`` → OTLP/HTTP protobuf exporter)
with a short timeout and the exporter's bounded retry.

``emit`` runs in requests, so it only appends a tuple to a deque (about a
microsecond): building an SDK log record costs ~30-40 µs of attribute cleaning
and copying, so a daemon "handoff" thread does that for queued events every
batch delay. The SDK drops the oldest record silently when its queue is full, so
we keep our own count of pending records (handoff + SDK queue + in flight) and
drop (and count) new ones before that happens. Right before each export the sink
asks ``may_export(layer)`` and drops records whose layer is no longer allowed (an
opt-out stops detailed analytics already queued).
"""

from __future__ import annotations

import base64
import json
import logging
import os
import platform
import threading
import time
import uuid
from collections import deque
from typing import Any, Callable, Mapping, Sequence

from .metrics import TelemetryMetrics

log = logging.getLogger("app.telemetry")

LAYER_ATTRIBUTE = "telemetry.layer"
SCOPE_NAME = "timetracker.telemetry"


def authorization_header(token: str | None) -> dict[str, str]:
    """``instance:token`` → HTTP Basic (what Grafana Cloud expects); a bare token → Bearer."""
    if not token:
        return {}
    if ":" in token:
        return {"Authorization": "Basic " + base64.b64encode(token.encode()).decode("ascii")}
    return {"Authorization": f"Bearer {token}"}


def logs_url(endpoint: str) -> str:
    """The OTLP/HTTP logs URL under the configured base endpoint."""
    base = endpoint.rstrip("/")
    return base if base.endswith("/v1/logs") else base + "/v1/logs"


_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64",
         "armv7l": "arm32", "i386": "x86", "i686": "x86", "ppc64le": "ppc64", "s390x": "s390x"}


def host_arch() -> str:
    """CPU architecture as an OpenTelemetry semconv ``host.arch`` value."""
    return _ARCH.get(platform.machine().lower(), "other")


def os_type() -> str:
    """Operating system as a semconv ``os.type`` value."""
    system = platform.system().lower()
    return system if system in ("linux", "darwin", "windows") else "other"


def payload_dict(name: str, layer: str, attributes: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON shown in the outbox, the debug log and the admin page for one record."""
    return {"event": name, "layer": layer, "attributes": dict(attributes)}


class Sink:
    """Interface: ``emit`` never blocks and never raises; ``flush``/``shutdown`` are bounded."""

    kind = "none"

    def emit(self, layer: str, name: str, attributes: Mapping[str, Any]) -> bool:
        raise NotImplementedError

    def flush(self, timeout_seconds: float) -> bool:
        return True

    def shutdown(self, timeout_seconds: float) -> None:
        return None

    def pending(self) -> int:
        return 0


class DebugSink(Sink):
    """``TELEMETRY_DEBUG=1``: each payload goes to the JSON log instead of the network."""

    kind = "debug"

    def __init__(self, metrics: TelemetryMetrics, on_sent: Callable[[list[dict]], None]) -> None:
        self._metrics = metrics
        self._on_sent = on_sent

    def emit(self, layer: str, name: str, attributes: Mapping[str, Any]) -> bool:
        payload = payload_dict(name, layer, attributes)
        log.info("telemetry.debug_payload", extra={"telemetry_payload": json.dumps(payload)})
        self._metrics.count(layer, "sent")
        self._on_sent([payload])
        return True


class _CountingExporter:
    """Wraps the OTLP exporter: counts sent/failed per layer and hands sent payloads on."""

    def __init__(self, inner, sink: "OtlpSink") -> None:
        self._inner = inner
        self._sink = sink
        self._failing = False

    def export(self, batch: Sequence[Any]):
        from opentelemetry.sdk._logs.export import LogRecordExportResult

        batch = self._sink._still_allowed(batch)
        if not batch:
            return LogRecordExportResult.SUCCESS
        try:
            result = self._inner.export(batch)
        except Exception:  # never let the worker thread die: count and carry on
            log.warning("telemetry.export_error", exc_info=True)
            result = LogRecordExportResult.FAILURE
        success = result == LogRecordExportResult.SUCCESS
        # The exporter logs each failure itself (deduplicated over 20 s); this says when a
        # failing streak starts and ends, and the counters in /metrics have every batch.
        if success == self._failing:
            self._failing = not success
            if success:
                log.info("telemetry.export_recovered")
            else:
                log.warning("telemetry.export_failing", extra={
                    "hint": "failures are counted in tt_telemetry_events_total{result=\"failed\"}"})
        self._sink._exported(batch, success)
        return result

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True

    def shutdown(self) -> None:
        self._inner.shutdown()


class OtlpSink(Sink):
    """OpenTelemetry logs over OTLP/HTTP protobuf; one log record per event."""

    kind = "otlp"

    def __init__(
        self,
        *,
        endpoint: str,
        token: str | None,
        app_version: str,
        timeout_seconds: float,
        max_queue_size: int,
        metrics: TelemetryMetrics,
        on_sent: Callable[[list[dict]], None],
        schedule_delay_millis: float = 1000,
        may_export: Callable[[str], bool] = lambda layer: True,
    ) -> None:
        from opentelemetry.exporter.otlp.proto.http import Compression
        from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
        from opentelemetry.sdk._logs import LoggerProvider
        from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
        from opentelemetry.sdk.resources import Resource

        self._metrics = metrics
        self._on_sent = on_sent
        self._may_export = may_export
        self._max_queue_size = max_queue_size
        self._pending = 0
        self._lock = threading.Lock()
        # Events waiting for the handoff thread: (time_ns, layer, name, attributes).
        self._handoff: deque[tuple[int, str, str, Mapping[str, Any]]] = deque()
        self._handoff_delay = schedule_delay_millis / 1000
        self._handoff_batch = min(512, max_queue_size)
        self._wake = threading.Event()
        self._stopped = False
        self._handoff_thread: threading.Thread | None = None
        self._handoff_pid = 0
        self.url = logs_url(endpoint)
        resource = Resource.create({
            "service.name": "timetracker",
            "service.version": app_version,
            # Per process, random: never the hostname (which changes with every container).
            "service.instance.id": str(uuid.uuid4()),
            "os.type": os_type(),
            "host.arch": host_arch(),
        })
        exporter = OTLPLogExporter(
            endpoint=self.url, headers=authorization_header(token), timeout=timeout_seconds,
            compression=Compression.NoCompression,
        )
        self._provider = LoggerProvider(resource=resource, shutdown_on_exit=False)
        self._provider.add_log_record_processor(BatchLogRecordProcessor(
            _CountingExporter(exporter, self),
            schedule_delay_millis=schedule_delay_millis,
            max_queue_size=max_queue_size * 2,  # ours drops first, the SDK's never has to
            max_export_batch_size=min(512, max_queue_size),
            export_timeout_millis=timeout_seconds * 1000,
        ))
        self._logger = self._provider.get_logger(SCOPE_NAME)
        metrics.queue_size.set(0)

    def emit(self, layer: str, name: str, attributes: Mapping[str, Any]) -> bool:
        with self._lock:
            if self._pending >= self._max_queue_size or self._stopped:
                self._metrics.count(layer, "dropped")
                return False
            self._pending += 1
        self._metrics.queue_size.inc()
        self._handoff.append((time.time_ns(), layer, name, attributes))
        if self._handoff_pid != os.getpid():
            self._start_handoff_thread()
        elif len(self._handoff) >= self._handoff_batch:
            self._wake.set()
        return True

    def _start_handoff_thread(self) -> None:
        # Per process: after a fork the parent's thread does not exist in the child.
        with self._lock:
            if self._handoff_pid == os.getpid():
                return
            self._handoff_pid = os.getpid()
            self._handoff_thread = threading.Thread(
                target=self._handoff_loop, name="telemetry-handoff", daemon=True)
            self._handoff_thread.start()

    def _handoff_loop(self) -> None:
        while not self._stopped:
            self._wake.wait(self._handoff_delay)
            self._wake.clear()
            self._hand_over()

    def _hand_over(self) -> None:
        """Turn queued events into SDK log records (the SDK batches and exports them)."""
        while True:
            try:
                time_ns, layer, name, attributes = self._handoff.popleft()
            except IndexError:
                return
            try:
                self._logger.emit(
                    timestamp=time_ns, event_name=name, body=name,
                    attributes={"event.name": name, LAYER_ATTRIBUTE: layer, **attributes},
                )
            except Exception:  # never let the thread die: count and carry on
                log.warning("telemetry.emit_error", exc_info=True)
                self._done(1)
                self._metrics.count(layer, "failed")

    def _done(self, count: int) -> None:
        with self._lock:
            self._pending -= count
            self._metrics.queue_size.dec(count)

    def _still_allowed(self, batch: Sequence[Any]) -> Sequence[Any]:
        """The records of ``batch`` whose layer may still leave (consent is re-read per batch)."""
        allowed = {}
        kept = []
        for record in batch:
            layer = (record.log_record.attributes or {}).get(LAYER_ATTRIBUTE, "analytics")
            if layer not in allowed:
                try:
                    allowed[layer] = bool(self._may_export(layer))
                except Exception:  # cannot tell: treat as not allowed
                    log.warning("telemetry.consent_check_error", exc_info=True)
                    allowed[layer] = False
            if allowed[layer]:
                kept.append(record)
            else:
                self._metrics.count(layer, "filtered")
        if len(kept) < len(batch):
            self._done(len(batch) - len(kept))
        return kept

    def _exported(self, batch: Sequence[Any], success: bool) -> None:
        self._done(len(batch))
        payloads = []
        for record in batch:
            attrs = dict(record.log_record.attributes or {})
            layer = attrs.pop(LAYER_ATTRIBUTE, "analytics")
            name = attrs.pop("event.name", record.log_record.event_name)
            self._metrics.count(layer, "sent" if success else "failed")
            payloads.append(payload_dict(name, layer, attrs))
        if success and payloads:
            try:
                self._on_sent(payloads)
            except Exception:
                log.warning("telemetry.outbox_error", exc_info=True)

    def pending(self) -> int:
        with self._lock:
            return self._pending

    def flush(self, timeout_seconds: float) -> bool:
        self._hand_over()  # in the caller's thread: nothing waits for the next handoff tick
        return self._provider.force_flush(timeout_millis=int(timeout_seconds * 1000))

    def shutdown(self, timeout_seconds: float) -> None:
        with self._lock:
            self._stopped = True
        self._wake.set()
        self._hand_over()
        # BatchLogRecordProcessor.shutdown flushes what is queued; the exporter's own short
        # timeout bounds each attempt, so a dead sink costs at most about that.
        self._provider.shutdown()


def build_sink(config: Mapping[str, Any], metrics: TelemetryMetrics,
               on_sent: Callable[[list[dict]], None],
               may_export: Callable[[str], bool] = lambda layer: True) -> Sink | None:
    """The sink for this config, or None (kill switch, or neither endpoint nor debug)."""
    if config.get("DO_NOT_TRACK") or config.get("TELEMETRY_DISABLED"):
        return None
    if config.get("TELEMETRY_DEBUG"):
        return DebugSink(metrics, on_sent)
    endpoint = config.get("GRAFANA_OTLP_ENDPOINT")
    if not endpoint:
        return None
    return OtlpSink(
        endpoint=endpoint,
        token=config.get("GRAFANA_OTLP_TOKEN"),
        app_version=config.get("APP_VERSION", "0.0.0"),
        timeout_seconds=float(config.get("TELEMETRY_EXPORT_TIMEOUT_SECONDS", 2.0)),
        max_queue_size=int(config.get("TELEMETRY_QUEUE_SIZE", 1000)),
        metrics=metrics,
        on_sent=on_sent,
        schedule_delay_millis=float(config.get("TELEMETRY_BATCH_DELAY_MS", 1000)),
        may_export=may_export,
    )
