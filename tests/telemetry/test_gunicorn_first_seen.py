"""first_seen exactly once across a 3-worker gunicorn and a restart of it."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WORKERS = 3

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _run_gunicorn(env: dict, folder: Path) -> None:
    """Start gunicorn, wait until it serves, then stop it gracefully (workers flush at exit)."""
    output = open(folder / "gunicorn.out", "ab")
    process = subprocess.Popen([sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py"],
                               env=env, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    try:
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{env['PORT']}/readyz", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("gunicorn did not start:\n" + (folder / "gunicorn.out").read_text())
            time.sleep(0.2)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        output.close()


def test_first_seen_once_across_three_gunicorn_workers_and_a_restart(sqlite_template, tmp_path,
                                                                    otlp_receiver):
    database = tmp_path / "timetracker.db"
    shutil.copy(sqlite_template, database)
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("SENTRY_", "PROMETHEUS_", "METRICS_", "LOG_", "DO_NOT_TRACK"))}
    env.update({
        "DATABASE_URL": f"sqlite:///{database}", "DATA_DIR": str(tmp_path / "data"),
        "LOG_DIR": str(tmp_path / "logs"), "HOST": "127.0.0.1", "PORT": str(_free_port()),
        "WEB_CONCURRENCY": str(WORKERS), "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prom"),
        "SCHEDULER_ENABLED": "false", "TELEMETRY_DISABLED": "true",
    })
    # Setup happens with telemetry off, so first_seen is still due when the workers start.
    subprocess.run(
        [sys.executable, "-m", "flask", "--app", "app", "setup", "--admin-username", "admin",
         "--admin-password-stdin"],
        input="gunicorn-admin-password\n", text=True, env=env, cwd=ROOT, check=True,
        capture_output=True,
    )
    assert otlp_receiver.requests == []
    env.update({"TELEMETRY_DISABLED": "false", "GRAFANA_OTLP_ENDPOINT": otlp_receiver.url})
    _run_gunicorn(env, tmp_path)
    _run_gunicorn(dict(env, PORT=str(_free_port())), tmp_path)
    assert otlp_receiver.names() == ["base_telemetry.first_seen"]
    log = (tmp_path / "gunicorn.out").read_text()
    assert log.count("Booting worker") == 2 * WORKERS
