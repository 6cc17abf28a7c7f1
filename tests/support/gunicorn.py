"""The app under real gunicorn (``gunicorn.conf.py``), for the tests that need worker processes.

``gunicorn_env`` builds the environment (config comes only from it), ``run_flask`` runs
an operator's ``flask --app app ...`` command in its own process, ``run_setup`` completes
setup through ``flask setup``, and ``serving`` starts gunicorn, waits for ``/readyz`` and
stops it gracefully (workers flush at exit), whatever happens.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Iterator

from . import free_port

ROOT = Path(__file__).resolve().parents[2]
# Settings of the developer's shell that would change what the tests measure.
_DROPPED_PREFIXES = ("SENTRY_", "PROMETHEUS_", "METRICS_", "LOG_", "DO_NOT_TRACK")


def gunicorn_env(folder: Path, database: Path | str, *, workers: int, **settings: str) -> dict[str, str]:
    """The environment for one app on ``database`` (a SQLite file, or any database URL),
    data and logs under ``folder``."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(_DROPPED_PREFIXES)}
    url = f"sqlite:///{database}" if isinstance(database, Path) else database
    env.update({
        "DATABASE_URL": url, "DATA_DIR": str(folder / "data"),
        "LOG_DIR": str(folder / "logs"), "HOST": "127.0.0.1", "PORT": str(free_port()),
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


@contextlib.contextmanager
def serving(env: dict[str, str], folder: Path, timeout: float = 60) -> Iterator[str]:
    """gunicorn with ``env``; yields its base URL. Output is appended to folder/gunicorn.out."""
    output = open(folder / "gunicorn.out", "ab")
    # --no-control-socket: gunicorn 27 otherwise shares $HOME/.gunicorn/gunicorn.ctl with every
    # other instance on the host, and stopping one deletes the other's (MACHINE-NOTES.md).
    process = subprocess.Popen([sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py",
                                "--no-control-socket"],
                               env=env, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{env['PORT']}"
    deadline = time.monotonic() + timeout
    try:
        while True:  # /readyz, so that /healthz counts stay the test's own
            try:
                with urllib.request.urlopen(f"{base_url}/readyz", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("gunicorn did not start:\n" + (folder / "gunicorn.out").read_text())
            time.sleep(0.2)
        yield base_url
    finally:
        stop_process(process, timeout=30)
        output.close()
