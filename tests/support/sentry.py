"""A DSN host on 127.0.0.1 that keeps every Sentry envelope it receives (tests and bench/).

Point ``SENTRY_DSN`` at ``receiver.dsn``; the SDK POSTs (gzip) envelopes to
``/api/<project>/envelope/``; ``events()`` decodes the ``event`` items.
"""

from __future__ import annotations

import gzip
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def parse_envelope(body: bytes) -> list[tuple[dict, bytes]]:
    """Sentry envelope: a header line, then (item header line, payload) pairs."""
    lines = body.split(b"\n", 1)
    rest = lines[1] if len(lines) > 1 else b""
    items = []
    while rest.strip():
        header_line, _, rest = rest.partition(b"\n")
        header = json.loads(header_line)
        if "length" in header:
            payload, rest = rest[: header["length"]], rest[header["length"] + 1:]
        else:
            payload, _, rest = rest.partition(b"\n")
        items.append((header, payload))
    return items


class SentryReceiver:
    """Collects the envelopes POSTed to ``/api/<project>/envelope/``."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server API)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                receiver.bodies.append(body)
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.dsn = f"http://publickey123@127.0.0.1:{self.server.server_address[1]}/1"

    def events(self) -> list[dict]:
        # Besides "event" items the SDK can send sessions and client reports: only events count.
        return [json.loads(payload) for body in self.bodies
                for header, payload in parse_envelope(body) if header.get("type") == "event"]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
