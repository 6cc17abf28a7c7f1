"""The app under real gunicorn (``gunicorn.conf.py``), for the tests that need worker processes.

``gunicorn_env`` builds the environment (config comes only from it), ``run_flask`` runs
an operator's ``flask --app app ...`` command in its own process, ``run_setup`` completes
setup through the ``flask setup`` CLI, and ``serving`` starts gunicorn, waits
until **every** worker has loaded the app and the database answers, and stops it
gracefully (workers flush at exit), whatever happens.

Determinism under load (issue 13): gunicorn binds port 0 and the port it got is read
back from its log (no bind-close-reuse race with another process taking the port); a
multi-worker test starts measuring only once each worker logged "Worker ready" (one
worker answering /readyz said nothing about the others, which could still be importing
the app when a short burst was over); and each instance's control socket is its own
(gunicorn.conf.py: per DATA_DIR, or none).
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Iterator

from . import free_port  # noqa: F401  (re-exported for tests that need a port for another server)

ROOT = Path(__file__).resolve().parents[2]
# Settings of the developer's shell that would change what the tests measure.
_DROPPED_PREFIXES = ("SENTRY_", "PROMETHEUS_", "METRICS_", "LOG_", "DO_NOT_TRACK")
_LISTENING = re.compile(r"Listening at: http://127\.0\.0\.1:(\d+)")
_WORKER_READY = re.compile(r"Worker ready \(pid: (\d+)\)")


def gunicorn_env(folder: Path, database: Path | str, *, workers: int, **settings: str) -> dict[str, str]:
    """The environment for one app on ``database`` (a SQLite file, or any database URL),
    data and logs under ``folder``.

    ``PORT`` is 0: gunicorn binds a free port and ``serving`` reads it from the log.
    """
    env = {key: value for key, value in os.environ.items() if not key.startswith(_DROPPED_PREFIXES)}
    env.update({
        "DATABASE_URL": f"sqlite:///{database}" if isinstance(database, Path) else database,
        "DATA_DIR": str(folder / "data"),
        "LOG_DIR": str(folder / "logs"), "HOST": "127.0.0.1", "PORT": "0",
        "WEB_CONCURRENCY": str(workers), "SCHEDULER_ENABLED": "false", "TELEMETRY_DISABLED": "true",
    })
    env.update(settings)
    return env


def run_flask(env: dict[str, str], *args: str, stdin: str = "",
              timeout: float = 60) -> subprocess.CompletedProcess:
    """``flask --app app ARGS`` in its own process, as an operator runs it; raises on a
    non-zero exit with the command's output in the message."""
    done = subprocess.run([sys.executable, "-m", "flask", "--app", "app", *args], input=stdin,
                          text=True, env=env, cwd=ROOT, capture_output=True, timeout=timeout)
    if done.returncode != 0:
        raise AssertionError(f"flask {' '.join(args)} exited {done.returncode}:\n"
                             f"{done.stdout}\n{done.stderr}")
    return done


def run_setup(env: dict[str, str], *extra: str) -> subprocess.CompletedProcess:
    """Headless first-run setup (``flask setup``), admin ``admin``; returns the finished process."""
    return run_flask(env, "setup", "--admin-username", "admin", "--admin-password-stdin", *extra,
                     stdin="gunicorn-admin-password\n")


def stop_process(process: subprocess.Popen, timeout: float) -> None:
    """SIGTERM, then SIGKILL if it has not exited within ``timeout`` seconds."""
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _ready(output: str, workers: int) -> int | None:
    """The port, once gunicorn listens and ``workers`` distinct workers are ready."""
    listening = _LISTENING.findall(output)
    ready = set(_WORKER_READY.findall(output))
    if listening and len(ready) >= workers:
        return int(listening[-1])
    return None


@contextlib.contextmanager
def serving(env: dict[str, str], folder: Path, timeout: float = 60) -> Iterator[str]:
    """gunicorn with ``env``; yields its base URL once every worker serves.

    Output is appended to folder/gunicorn.out (a restart appends): only what this start
    wrote is read.
    """
    log_path = folder / "gunicorn.out"
    output = open(log_path, "ab")
    offset = output.tell()
    process = subprocess.Popen([sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py"],
                               env=env, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT)
    workers = int(env.get("WEB_CONCURRENCY", "1"))
    deadline = time.monotonic() + timeout

    def this_start() -> str:
        with open(log_path, "rb") as handle:
            handle.seek(offset)
            return handle.read().decode("utf-8", "replace")

    def fail(why: str):
        raise AssertionError(f"gunicorn {why}:\n" + this_start())

    try:
        port = None
        while port is None:
            if process.poll() is not None:
                fail("exited while starting")
            if time.monotonic() > deadline:
                fail(f"did not get {workers} workers ready in {timeout} s")
            time.sleep(0.1)
            port = _ready(this_start(), workers)
        base_url = f"http://127.0.0.1:{port}"
        while True:  # /readyz, so that /healthz counts stay the test's own
            try:
                with urllib.request.urlopen(f"{base_url}/readyz", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                fail("did not answer /readyz")
            time.sleep(0.2)
        yield base_url
    finally:
        stop_process(process, timeout=30)
        output.close()
