"""The real app under gunicorn for benchmarks, and what a load test needs around it.

    with postgres_database() as url:
        with gunicorn_server(url, data_dir, workers=2, env={"METRICS_ENABLED": "true"}) as server:
            cookie = sign_in(server.base_url, ADMIN_USERNAME, ADMIN_PASSWORD)
            result = run_wrk(server.base_url + "/", duration=5, connections=8, threads=2,
                             headers={"Cookie": cookie})

:func:`gunicorn_server` migrates the database and completes setup (idempotent: a
second server on the same database and data directory skips both), starts
``gunicorn --config gunicorn.conf.py`` with configuration from environment
variables only (as the container does), waits for ``/readyz`` and for every worker,
yields a :class:`Server`, and stops gunicorn with SIGTERM (SIGKILL to its process
group if it does not stop) whatever happens in the block.

:func:`app_context` is the same app in this process, for seeding data and creating
API tokens through the services; :func:`sign_in` signs in through the login form;
:func:`run_wrk` runs Debian's ``wrk`` and returns throughput, latency percentiles,
socket errors and non-2xx answers (counted by ``bench/wrk/report.lua``, because
wrk's own count treats a 302 to the login page as a success).
"""

from __future__ import annotations

import contextlib
import http.cookiejar
import json
import os
import re
import resource
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping

from ._common import ROOT  # first: it puts the repository on sys.path
from tests.support.gunicorn import gunicorn  # noqa: E402  (the one launcher, shared with the tests)

ADMIN_USERNAME = "admin"
ADMIN_PASSWORD = "bench-password-123"
WRK = "/usr/bin/wrk"
WRK_DIR = ROOT / "bench" / "wrk"
REPORT_LUA = WRK_DIR / "report.lua"
# Variables a developer's shell may hold that would change what is measured.
_INHERITED_PREFIXES = ("SENTRY_", "PROMETHEUS_", "METRICS_", "LOG_", "TELEMETRY_", "GRAFANA_",
                       "DATABASE_", "DATA_DIR", "WEB_CONCURRENCY", "PORT", "HOST", "SCHEDULER_",
                       "DO_NOT_TRACK", "SECRET_KEY", "FLASK_")
_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


@dataclass
class Server:
    """A running gunicorn: where it listens and which processes serve."""

    base_url: str
    port: int
    pid: int  # the master
    data_dir: Path
    log_dir: Path
    multiproc_dir: Path
    output_path: Path  # gunicorn's stdout and stderr (the app's JSON lines go there too)
    env: dict[str, str]
    workers: int
    process: subprocess.Popen = field(repr=False, default=None)

    def worker_pids(self) -> list[int]:
        """The master's live children (the workers)."""
        return _children(self.pid)

    def pids(self) -> list[int]:
        return [self.pid, *self.worker_pids()]

    def cpu_seconds(self) -> dict[int, float]:
        """User + system CPU seconds used so far, per process (master and workers)."""
        return {pid: _cpu_seconds(pid) for pid in self.pids()}


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
        return [int(child) for child in text.split()]
    except OSError:
        pass
    children = []  # kernels without CONFIG_PROC_CHILDREN: scan /proc
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            children.append(int(stat.parent.name))
    return children


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _quiet_config(database_url: str, data_dir: Path) -> dict[str, Any]:
    """An in-process app that only talks to the database: no sink, no metrics, no scheduler."""
    return {
        "TESTING": False, "SQLALCHEMY_DATABASE_URI": database_url, "DATA_DIR": str(data_dir),
        "LOG_DIR": str(data_dir / "bench-admin-logs"), "LOG_LEVEL": "WARNING",
        "METRICS_ENABLED": False, "TELEMETRY_DISABLED": True, "GRAFANA_OTLP_ENDPOINT": None,
        "SENTRY_DSN": None, "SCHEDULER_ENABLED": False, "PROMETHEUS_MULTIPROC_DIR": None,
    }


@contextlib.contextmanager
def app_context(database_url: str, data_dir: str | os.PathLike) -> Iterator[Any]:
    """The app in this process, inside an app context, on the server's database and data dir.

    For seeding through the services and creating tokens. Telemetry is switched off
    for this app only (``TELEMETRY_DISABLED``): the stored opt-in choice in
    ``installation.json`` is still written by setup, and read by the servers.
    """
    from app import create_app
    from app.extensions import db

    data_dir = Path(data_dir)
    app = create_app(_quiet_config(database_url, data_dir))
    try:
        with app.app_context():
            yield app
            db.session.remove()
    finally:
        with app.app_context():
            db.engine.dispose()


def prepare_database(database_url: str, data_dir: str | os.PathLike, *,
                     admin_username: str = ADMIN_USERNAME, admin_password: str = ADMIN_PASSWORD,
                     analytics: bool = True) -> bool:
    """Migrate (``flask db upgrade``, in process) and complete setup unless already done.

    ``analytics`` is the admin's detailed-analytics choice at setup. Returns whether
    setup ran now (False: it had been completed before, the stored choice stands).
    """
    import logging

    from flask_migrate import upgrade

    from app.services import setup

    Path(data_dir).mkdir(parents=True, exist_ok=True)
    alembic_log = logging.getLogger("alembic")
    level = alembic_log.level
    alembic_log.setLevel(logging.WARNING)
    try:
        with app_context(database_url, data_dir):
            upgrade()
            if setup.is_setup_complete():
                return False
            setup.complete_setup(admin_username=admin_username, admin_password=admin_password,
                                 allow_analytics=analytics)
            return True
    finally:
        alembic_log.setLevel(level)


def create_api_token(database_url: str, data_dir: str | os.PathLike, username: str,
                     name: str = "bench") -> str:
    """A personal API token for ``username`` (what ``flask create-token`` prints)."""
    from app.services import api_tokens
    from app.services.users import find_by_username

    with app_context(database_url, data_dir):
        user = find_by_username(username)
        if user is None:
            raise LookupError(f"no user named {username!r}")
        return api_tokens.create_token(user, name).secret


def server_env(database_url: str, data_dir: Path, log_dir: Path, multiproc_dir: Path,
               workers: int, env: Mapping[str, str] | None) -> dict[str, str]:
    """The environment gunicorn starts with: ours, without the caller's app settings.

    ``PORT`` is 0: gunicorn binds a free port and the launcher reads it from the log.
    """
    base = {key: value for key, value in os.environ.items()
            if not key.startswith(_INHERITED_PREFIXES)}
    base.update({
        "DATABASE_URL": database_url, "DATA_DIR": str(data_dir), "LOG_DIR": str(log_dir),
        "HOST": "127.0.0.1", "PORT": "0", "WEB_CONCURRENCY": str(workers),
        "PROMETHEUS_MULTIPROC_DIR": str(multiproc_dir), "SCHEDULER_ENABLED": "false",
        "PYTHONUNBUFFERED": "1",
    })
    base.update(env or {})
    return base


@contextlib.contextmanager
def gunicorn_server(database_url: str, data_dir: str | os.PathLike, *, workers: int = 2,
                    env: Mapping[str, str] | None = None, log_dir: str | os.PathLike | None = None,
                    name: str = "server", prepare: bool = True, analytics: bool = True,
                    ready_timeout: float = 60.0, app_uri: str | None = None) -> Iterator[Server]:
    """Start ``gunicorn --config gunicorn.conf.py`` on a free port; stop it on leaving.

    ``env`` adds to (and overrides) the variables set here: DATABASE_URL, DATA_DIR,
    LOG_DIR (``log_dir`` or ``data_dir/<name>-logs``), HOST, PORT, WEB_CONCURRENCY,
    PROMETHEUS_MULTIPROC_DIR (``data_dir/<name>-prometheus``, the parent of the master's
    own ``<hostname>-<pid>`` directory, which gunicorn.conf.py empties at start) and
    SCHEDULER_ENABLED=false. ``prepare`` migrates and completes setup first, with
    ``analytics`` as the opt-in choice (skipped when setup was done before).
    ``app_uri`` serves another WSGI app (``module:callable``) with the same gunicorn
    configuration (the bare-Flask baseline of scenario 1). Started and stopped by the
    tests' launcher (``tests/support/gunicorn.py``).
    """
    data_dir = Path(data_dir).resolve()
    if prepare:
        prepare_database(database_url, data_dir, analytics=analytics)
    log_dir = Path(log_dir).resolve() if log_dir else data_dir / f"{name}-logs"
    multiproc_dir = data_dir / f"{name}-prometheus"
    log_dir.mkdir(parents=True, exist_ok=True)
    full_env = server_env(database_url, data_dir, log_dir, multiproc_dir, workers, env)
    output_path = data_dir / f"{name}-gunicorn.out"
    output_path.write_bytes(b"")  # this run's output only
    with gunicorn(full_env, output_path, timeout=ready_timeout, app_uri=app_uri) as started:
        server = Server(base_url=started.base_url, port=started.port, pid=started.process.pid,
                        data_dir=data_dir, log_dir=log_dir, multiproc_dir=multiproc_dir,
                        output_path=output_path, env=full_env, workers=workers,
                        process=started.process)
        # Ready means every worker loaded the app; a worker's first request still warms
        # its caches: touch them all before anything is measured.
        for _ in range(server.workers * 4):
            with contextlib.suppress(OSError):
                urllib.request.urlopen(f"{server.base_url}/readyz", timeout=5).close()
        yield server


# -- HTTP helpers ------------------------------------------------------------------


def sign_in(base_url: str, username: str = ADMIN_USERNAME, password: str = ADMIN_PASSWORD) -> str:
    """Sign in through the login form (CSRF token included); returns a ``Cookie`` header value."""
    jar = http.cookiejar.CookieJar()

    class _NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), _NoRedirect)
    with opener.open(f"{base_url}/login", timeout=10) as response:
        match = _CSRF.search(response.read().decode("utf-8"))
    if match is None:
        raise RuntimeError("no csrf_token on the login page")
    form = urllib.parse.urlencode({"username": username, "password": password,
                                   "csrf_token": match.group(1)}).encode()
    try:
        opener.open(f"{base_url}/login", data=form, timeout=10).close()
        raise RuntimeError("sign-in did not redirect (wrong password?)")
    except urllib.error.HTTPError as exc:
        if exc.code != 302:
            raise RuntimeError(f"sign-in answered {exc.code}") from None
    cookie = "; ".join(f"{c.name}={c.value}" for c in jar)
    status, _ = http_request(f"{base_url}/", headers={"Cookie": cookie})
    if status != 200:
        raise RuntimeError(f"signed-in dashboard answered {status}")
    return cookie


def http_request(url: str, *, method: str = "GET", headers: Mapping[str, str] | None = None,
                 json_body: Any = None, timeout: float = 10) -> tuple[int, bytes]:
    """One request; returns (status, body) for any status, without following redirects."""
    status, _headers, body = http_exchange(url, method=method, headers=headers,
                                           json_body=json_body, timeout=timeout)
    return status, body


def http_exchange(url: str, *, method: str = "GET", headers: Mapping[str, str] | None = None,
                  json_body: Any = None, timeout: float = 10) -> tuple[int, Any, bytes]:
    """:func:`http_request` with the response headers too: (status, headers, body)."""

    class _NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    data = None
    all_headers = dict(headers or {})
    if json_body is not None:
        data = json.dumps(json_body).encode()
        all_headers.setdefault("Content-Type", "application/json")
    elif method == "POST":
        data = b""
    request = urllib.request.Request(url, data=data, headers=all_headers, method=method)
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(request, timeout=timeout) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read()


# -- wrk ---------------------------------------------------------------------------

_WRK_JSON = re.compile(r"^WRK_JSON (\{.*\})$", re.MULTILINE)
_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def run_wrk(url: str, duration: float, connections: int, threads: int,
            headers: Mapping[str, str] | None = None, lua_script: str | os.PathLike | None = None,
            env: Mapping[str, str] | None = None, timeout_seconds: int = 10) -> dict[str, Any]:
    """Run ``wrk --latency`` against ``url``; figures from ``bench/wrk/report.lua``'s JSON line.

    ``lua_script`` (default ``bench/wrk/report.lua``) must load report.lua (see
    timer.lua). ``env`` is passed to wrk (scripts read their settings from it).
    Returns requests_per_second, p50/p90/p99/max_ms, requests, errors (socket
    errors and timeouts), non_2xx (any status outside 200-299), and wrk's own CPU
    use (``wrk_cpu_seconds``, ``wrk_cpu_share`` of the machine's cores).
    """
    script = Path(lua_script) if lua_script else REPORT_LUA
    command = [WRK, f"-t{threads}", f"-c{connections}", f"-d{max(1, round(duration))}s",
               f"--timeout={timeout_seconds}s", "--latency", "-s", str(script)]
    for key, value in (headers or {}).items():
        command += ["-H", f"{key}: {value}"]
    command.append(url)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    completed = subprocess.run(command, capture_output=True, text=True, cwd=ROOT,
                               env={**os.environ, **(env or {})}, timeout=duration + 60)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if completed.returncode != 0:
        raise RuntimeError(f"wrk failed ({completed.returncode}): {completed.stderr.strip()}")
    result = parse_wrk_output(completed.stdout)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    result["wrk_cpu_seconds"] = round(cpu, 3)
    result["wrk_cpu_share"] = round(cpu / (wall * (os.cpu_count() or 1)), 4)
    return result


def parse_wrk_output(stdout: str) -> dict[str, Any]:
    """Figures from wrk's output: the report.lua JSON line, else the ``--latency`` text."""
    match = _WRK_JSON.search(stdout)
    if match:
        data = json.loads(match.group(1))
        seconds = data["duration_us"] / 1e6
        errors = data["errors"]
        return {
            "requests": data["requests"],
            "duration_seconds": round(seconds, 3),
            "requests_per_second": round(data["requests"] / seconds, 1) if seconds else 0.0,
            "p50_ms": data["p50_us"] / 1000, "p90_ms": data["p90_us"] / 1000,
            "p99_ms": data["p99_us"] / 1000, "max_ms": data["max_us"] / 1000,
            "errors": errors["connect"] + errors["read"] + errors["write"] + errors["timeout"],
            "non_2xx": data["non_2xx"],
            "non_2xx_statuses": data.get("non_2xx_statuses", {}),
        }
    return _parse_wrk_text(stdout)


def _parse_wrk_text(stdout: str) -> dict[str, Any]:
    def latency(label: str) -> float:
        found = re.search(rf"^\s*{label}\s+([\d.]+)(us|ms|s|m)\s*$", stdout, re.MULTILINE)
        return float(found.group(1)) * _UNITS_MS[found.group(2)] if found else float("nan")

    requests = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)", stdout)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", stdout)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", stdout)
    non = re.search(r"Non-2xx or 3xx responses: (\d+)", stdout)
    return {
        "requests": int(requests.group(1)) if requests else 0,
        "duration_seconds": (float(requests.group(2)) * _UNITS_MS[requests.group(3)] / 1000
                             if requests else float("nan")),
        "requests_per_second": float(rps.group(1)) if rps else 0.0,
        "p50_ms": latency("50%"), "p90_ms": latency("90%"), "p99_ms": latency("99%"),
        "max_ms": float("nan"),
        "errors": sum(int(n) for n in errors.groups()) if errors else 0,
        # wrk counts only >= 400 here (3xx pass): report.lua counts strictly.
        "non_2xx": int(non.group(1)) if non else 0,
        "non_2xx_statuses": {},
    }


# -- a local Sentry ----------------------------------------------------------------


@contextlib.contextmanager
def sentry_receiver() -> Iterator[Any]:
    """A DSN host on 127.0.0.1 (tests/support/sentry.py) keeping the envelopes it receives."""
    from tests.support.sentry import SentryReceiver

    receiver = SentryReceiver()
    try:
        yield receiver
    finally:
        receiver.close()
