"""A real OTLP/HTTP receiver on 127.0.0.1 and apps wired to it.

The receiver is ~50 lines of ``http.server``: it decodes the exporter's protobuf
``ExportLogsServiceRequest`` and records the path, headers and raw body of every
request, so tests can check both what was meant (decoded records) and every byte
that left the process (raw bodies).
"""

from __future__ import annotations

import gzip
import threading
import zlib
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)

from app.telemetry import service


def any_value(value):
    """An OTLP AnyValue as a Python value (int64 stays an int, unlike MessageToDict)."""
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    return getattr(value, kind)


@dataclass
class Received:
    path: str
    headers: dict[str, str]  # lower-cased names
    raw_body: bytes
    records: list[dict]


@dataclass
class OtlpReceiver:
    """What a test can see of the receiver."""

    url: str
    requests: list[Received] = field(default_factory=list)
    mode: str = "ok"  # ok | error500 | hang
    release: threading.Event = field(default_factory=threading.Event)

    @property
    def records(self) -> list[dict]:
        return [record for req in self.requests for record in req.records]

    def events(self, layer: str | None = None) -> list[dict]:
        return [r for r in self.records if layer is None or r["attributes"].get("telemetry.layer") == layer]

    def names(self, layer: str | None = None) -> list[str]:
        return [r["event_name"] for r in self.events(layer)]

    @property
    def raw(self) -> bytes:
        return b"".join(req.raw_body for req in self.requests)


def _decode(body: bytes) -> list[dict]:
    message = ExportLogsServiceRequest()
    message.ParseFromString(body)
    records = []
    for resource_logs in message.resource_logs:
        resource = {kv.key: any_value(kv.value) for kv in resource_logs.resource.attributes}
        for scope_logs in resource_logs.scope_logs:
            for record in scope_logs.log_records:
                records.append({
                    "event_name": record.event_name,
                    "body": any_value(record.body),
                    "attributes": {kv.key: any_value(kv.value) for kv in record.attributes},
                    "resource": resource,
                })
    return records


@pytest.fixture
def otlp_receiver():
    receiver = OtlpReceiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's naming)
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            body = raw
            encoding = self.headers.get("Content-Encoding", "")
            if encoding == "gzip":
                body = gzip.decompress(raw)
            elif encoding == "deflate":
                body = zlib.decompress(raw)
            if receiver.mode == "hang":
                receiver.release.wait(10)
            if receiver.mode == "error500":
                self.send_response(500)
                self.end_headers()
                return
            receiver.requests.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body,
                                              _decode(body)))
            payload = ExportLogsServiceResponse().SerializeToString()
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield receiver
    receiver.release.set()
    server.shutdown()
    server.server_close()


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
