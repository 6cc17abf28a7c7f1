"""A real OTLP/HTTP logs receiver on 127.0.0.1, shared by tests and benchmarks.

~60 lines of ``http.server``: it decodes the exporter's protobuf
``ExportLogsServiceRequest`` and records the path, headers and raw body of every
request, so callers can check both what was meant (decoded records) and every byte
that left the process (raw bodies). Modes model a sink's faults:

- ``ok``: answer 200 with an ``ExportLogsServiceResponse``;
- ``error500``: answer 500 at once;
- ``slow500``: answer 500 after ``slow_seconds``;
- ``hang``: accept, read, and answer only once ``release`` is set (or after 30 s);
- ``refused``: nothing listens on ``url`` (connections are refused).

``keep_records=False`` counts requests and records without keeping them (benchmarks
that send a million events).
"""

from __future__ import annotations

import gzip
import sys
import threading
import zlib
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)

from . import free_port

MODES = ("ok", "error500", "slow500", "hang", "refused")


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
    """What a caller can see of the receiver."""

    url: str = ""
    mode: str = "ok"
    keep_records: bool = True
    slow_seconds: float = 1.0
    requests: list[Received] = field(default_factory=list)
    request_count: int = 0
    record_count: int = 0
    release: threading.Event = field(default_factory=threading.Event)
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

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

    def _received(self, item: Received) -> None:
        with self._lock:
            self.request_count += 1
            self.record_count += len(item.records)
            if self.keep_records:
                self.requests.append(item)

    def stop(self) -> None:
        self.release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def decode(body: bytes) -> list[dict]:
    message = ExportLogsServiceRequest()
    message.ParseFromString(body)
    records = []
    for resource_logs in message.resource_logs:
        resource = {kv.key: any_value(kv.value) for kv in resource_logs.resource.attributes}
        for scope_logs in resource_logs.scope_logs:
            for record in scope_logs.log_records:
                records.append({
                    "event_name": record.event_name,
                    "time_unix_nano": record.time_unix_nano,
                    "body": any_value(record.body),
                    "attributes": {kv.key: any_value(kv.value) for kv in record.attributes},
                    "resource": resource,
                })
    return records


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        # A client that gave up (its export timeout) leaves a broken pipe: expected here.
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)


def start_receiver(mode: str = "ok", *, keep_records: bool = True,
                   slow_seconds: float = 1.0) -> OtlpReceiver:
    """Start a receiver in ``mode`` on a free loopback port; call ``stop()`` when done."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}")
    receiver = OtlpReceiver(mode=mode, keep_records=keep_records, slow_seconds=slow_seconds)
    if mode == "refused":
        receiver.url = f"http://127.0.0.1:{free_port()}"  # nothing listens: refused
        return receiver

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
                receiver.release.wait(30)
            if receiver.mode == "slow500":
                receiver.release.wait(receiver.slow_seconds)
            if receiver.mode in ("error500", "slow500"):
                self.send_response(500)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            receiver._received(Received(self.path, {k.lower(): v for k, v in self.headers.items()},
                                        body, decode(body)))
            payload = ExportLogsServiceResponse().SerializeToString()
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):
            pass

    server = _QuietServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver._server = server
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, name="otlp-receiver", daemon=True).start()
    return receiver


def main() -> None:
    """Serve from a child process: prints the URL, then the counts as JSON once stdin closes.

    ``python -m tests.support.otlp --mode ok`` (benchmarks use it so the receiver's
    decoding never shares a GIL or CPU accounting with the process they measure).
    """
    import argparse
    import json

    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=MODES, default="ok")
    parser.add_argument("--slow-seconds", type=float, default=1.0)
    args = parser.parse_args()
    receiver = start_receiver(args.mode, keep_records=False, slow_seconds=args.slow_seconds)
    print(receiver.url, flush=True)
    sys.stdin.read()  # until the parent closes our stdin
    print(json.dumps({"requests": receiver.request_count, "records": receiver.record_count}),
          flush=True)
    receiver.release.set()  # free hanging handlers so shutdown() returns
    receiver.stop()


if __name__ == "__main__":
    main()
