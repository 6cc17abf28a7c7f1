"""The app under real gunicorn (``gunicorn.conf.py``), for the tests that need worker processes.

``gunicorn_env`` builds the environment (config comes only from it), ``run_flask`` runs
an operator's ``flask --app app ...`` command in its own process, ``run_setup`` completes
setup through the ``flask setup`` CLI, and ``gunicorn`` (the one launcher, also used by
bench/) starts gunicorn, waits until **every** worker has loaded the app and the
database answers, and stops it gracefully (workers flush at exit), whatever happens;
``serving`` is that launcher for a test's folder, yielding the base URL.

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
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from . import free_port  # noqa: F401  (re-exported for tests that need a port for another server)
from .polling import poll, wait_for

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


@dataclass
class Gunicorn:
    """A running gunicorn: its master process, where it listens, where its output goes."""

    process: subprocess.Popen
    port: int
    output_path: Path
    output_offset: int  # where this start's output begins in output_path (a restart appends)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        """What this start wrote to its output so far."""
        with open(self.output_path, "rb") as handle:
            handle.seek(self.output_offset)
            return handle.read().decode("utf-8", "replace")


def _ready(output: str, workers: int) -> int | None:
    """The port, once gunicorn listens and ``workers`` distinct workers are ready."""
    listening = _LISTENING.findall(output)
    ready = set(_WORKER_READY.findall(output))
    if listening and len(ready) >= workers:
        return int(listening[-1])
    return None


def _answers_readyz(base_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base_url}/readyz", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@contextlib.contextmanager
def gunicorn(env: dict[str, str], output_path: Path, *, timeout: float = 60,
             app_uri: str | None = None, stop_timeout: float = 30) -> Iterator[Gunicorn]:
    """The one way tests and benchmarks start ``gunicorn --config gunicorn.conf.py``.

    Configuration comes only from ``env`` (as in the container); ``app_uri`` serves
    another WSGI app (``module:callable``) under the same configuration. Output is
    appended to ``output_path``. Yields once every worker (``WEB_CONCURRENCY``) logged
    that it is ready and ``/readyz`` answers (``/readyz``, so that ``/healthz`` counts
    stay the caller's own); raises AssertionError with this start's output if it exits
    or is not ready within ``timeout`` seconds. On leaving: SIGTERM (workers finish
    in-flight requests and flush), SIGKILL to its process group after ``stop_timeout``.
    """
    workers = int(env.get("WEB_CONCURRENCY", "1"))
    with open(output_path, "ab") as output:
        offset = output.tell()
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py",
             *([app_uri] if app_uri else [])],
            env=env, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: a stuck stop kills only ours
        )
    server = Gunicorn(process, 0, Path(output_path), offset)

    def fail(why: str):
        raise AssertionError(f"gunicorn {why}:\n" + server.output()[-5000:])

    def alive() -> bool:
        if process.poll() is not None:
            fail(f"exited ({process.returncode}) while starting")
        return True

    try:
        port = poll(lambda: alive() and _ready(server.output(), workers), timeout, interval=0.1)
        if not port:
            fail(f"did not get {workers} workers ready in {timeout:g} s")
        server.port = port
        if not wait_for(lambda: alive() and _answers_readyz(server.base_url), timeout,
                        interval=0.2):
            fail("did not answer /readyz")
        yield server
    finally:
        _stop_group(process, stop_timeout)


def _stop_group(process: subprocess.Popen, timeout: float) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pass
    # Workers are in the master's process group; none may outlive it.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


@contextlib.contextmanager
def serving(env: dict[str, str], folder: Path, timeout: float = 60) -> Iterator[str]:
    """:func:`gunicorn` with ``env``, output appended to folder/gunicorn.out; yields its
    base URL once every worker serves."""
    with gunicorn(env, folder / "gunicorn.out", timeout=timeout) as server:
        yield server.base_url
