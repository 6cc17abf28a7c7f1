"""Request latency with detailed analytics on while the OTLP sink is healthy, refusing,
hanging or answering 500.

    .venv/bin/python bench/telemetry_sink_faults.py [--requests 300]

Each mode: a fresh app (SQLite in a temp dir, setup done, analytics opted in) whose
GRAFANA_OTLP_ENDPOINT points at a local server in that mode; a signed-in admin loads
/clients N times (each load emits a page view; a POST every 10th creates a client and emits
client.created). Reports p50/p95/max request latency and the pipeline counters, and writes
bench/results/telemetry_sink_faults.json. Everything runs on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import json
import re
import socket
import statistics
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from flask_migrate import upgrade  # noqa: E402

from app import create_app  # noqa: E402
from app.extensions import db  # noqa: E402
from app.telemetry import service  # noqa: E402

PASSWORD = "bench-password-123"
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def start_receiver(mode: str):
    release = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if mode == "hang":
                release.wait(30)
            status = 500 if mode == "error500" else 200
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, release


def refused_url() -> str:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there: connections are refused
    return f"http://127.0.0.1:{port}"


def run(mode: str, requests: int) -> dict:
    server = release = None
    if mode == "refused":
        url = refused_url()
    elif mode == "none":
        url = None
    else:
        server, release = start_receiver(mode)
        url = f"http://127.0.0.1:{server.server_address[1]}"
    tmp = Path(tempfile.mkdtemp(prefix="tt-bench-"))
    config = {"TESTING": False, "SCHEDULER_ENABLED": False, "DATA_DIR": str(tmp / "data"),
              "LOG_DIR": str(tmp / "logs"), "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp / 'db.sqlite'}",
              "GRAFANA_OTLP_ENDPOINT": url, "TELEMETRY_EXPORT_TIMEOUT_SECONDS": 2.0,
              "TELEMETRY_BATCH_DELAY_MS": 200, "METRICS_ENABLED": True}
    app = create_app(config)
    with app.app_context():
        upgrade()
        from app.services.setup import complete_setup

        complete_setup(admin_username="admin", admin_password=PASSWORD, allow_analytics=True)
    client = app.test_client()
    token = CSRF.search(client.get("/login").get_data(as_text=True)).group(1)
    assert client.post("/login", data={"username": "admin", "password": PASSWORD,
                                       "csrf_token": token}).status_code == 302
    latencies, errors = [], 0
    for i in range(requests):
        start = time.perf_counter()
        if i % 10 == 9:
            token = CSRF.search(client.get("/clients/new").get_data(as_text=True)).group(1)
            response = client.post("/clients/new", data={"name": f"Client {i}", "csrf_token": token})
        else:
            response = client.get("/clients")
        latencies.append((time.perf_counter() - start) * 1000)
        errors += response.status_code >= 500
    state = app.extensions["telemetry"]
    start = time.perf_counter()
    service.shutdown(app=app)
    shutdown_ms = (time.perf_counter() - start) * 1000
    if release is not None:
        release.set()
    if server is not None:
        server.shutdown()
    with app.app_context():
        db.engine.dispose()
    ordered = sorted(latencies)
    counts = {f"{layer}_{result}": int(state.metrics.value(layer, result))
              for layer in ("base", "analytics") for result in ("sent", "dropped", "filtered", "failed")}
    return {
        "mode": mode, "requests": requests, "server_errors": errors,
        "p50_ms": round(statistics.median(ordered), 2),
        "p95_ms": round(ordered[int(len(ordered) * 0.95) - 1], 2),
        "max_ms": round(ordered[-1], 2), "shutdown_ms": round(shutdown_ms, 1), **counts,
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    results = [run(mode, args.requests) for mode in ("none", "ok", "refused", "error500", "hang")]
    for row in results:
        print(json.dumps(row))
    out = ROOT / "bench" / "results" / "telemetry_sink_faults.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
