"""The image's start command and health check, run without a container engine.

The Dockerfile's ``CMD`` (migrations, then gunicorn with gunicorn.conf.py) and
``HEALTHCHECK`` are executed as written, with the image's ``ENV`` (paths moved
to a temporary directory, bound to 127.0.0.1) and this virtualenv standing in
for ``/opt/venv``. Every file the image copies must exist and not be excluded
by ``.dockerignore``.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shlex
import signal
import subprocess
import sys

import requests

from tests.deploy.conftest import REPO
from tests.support import free_port
from tests.support.polling import wait_for

START_SECONDS = 40


def _instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", (REPO / "Dockerfile").read_text())
    result = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            result.append((keyword.upper(), rest.strip()))
    return result


def _runtime_stage() -> list[tuple[str, str]]:
    instructions = _instructions()
    starts = [i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM"]
    return instructions[starts[-1]:]


def image_environment() -> dict[str, str]:
    args, env = {}, {}
    for keyword, rest in _runtime_stage():
        if keyword == "ARG":
            name, _, default = rest.partition("=")
            args[name] = default
        elif keyword == "ENV":
            for pair in shlex.split(rest):
                name, _, value = pair.partition("=")
                env[name] = re.sub(r"\$\{?(\w+)\}?", lambda m: args.get(m.group(1), env.get(
                    m.group(1), f"${m.group(1)}")), value)
    return env


def _json_command(keyword: str) -> list[str]:
    for name, rest in _runtime_stage():
        if name == keyword:
            return json.loads(rest[rest.index("["):])
    raise AssertionError(f"no {keyword} in the Dockerfile")


def _ignored(path: str, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatch(path, pattern.rstrip("/")) or path.startswith(pattern.rstrip("/") + "/")
               for pattern in patterns)


def test_every_copied_file_exists_and_reaches_the_build_context():
    patterns = [line.strip() for line in (REPO / ".dockerignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    sources = []
    for keyword, rest in _instructions():
        if keyword == "COPY" and "--from=" not in rest:
            sources += [part for part in rest.split()[:-1] if not part.startswith("--")]
    assert {"requirements.txt", "app/", "migrations/", "gunicorn.conf.py"} <= set(sources)
    for source in sources:
        assert (REPO / source).exists(), source
        assert not _ignored(source.rstrip("/"), patterns), f"{source} is excluded by .dockerignore"
    for secret in (".env", "instance/", "logs/"):
        assert _ignored(secret.rstrip("/"), patterns), secret


def test_the_image_runs_as_a_user_with_its_volumes_and_paths():
    env = image_environment()
    assert env["DATA_DIR"] == "/data" and env["LOG_DIR"] == "/var/log/timetracker"
    assert env["PROMETHEUS_MULTIPROC_DIR"] and env["APP_VERSION"] == "0.0.0-dev"
    runtime = dict(_runtime_stage())
    assert json.loads(runtime["VOLUME"]) == ["/data", "/var/log/timetracker"]
    assert runtime["USER"] not in {"root", "0", "0:0"}
    assert "/healthz" in runtime["HEALTHCHECK"]


def test_the_start_command_migrates_serves_and_passes_its_health_check(tmp_path):
    port = free_port()
    env = image_environment()
    env.update({
        "HOST": "127.0.0.1", "PORT": str(port), "WEB_CONCURRENCY": "2",
        "DATA_DIR": str(tmp_path / "data"), "LOG_DIR": str(tmp_path / "log"),
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prometheus"),
        "XDG_RUNTIME_DIR": str(tmp_path / "run"),
        "PATH": f"{os.path.dirname(sys.executable)}:{env['PATH'].replace('/opt/venv/bin:', '')}",
        "DO_NOT_TRACK": "1", "SCHEDULER_ENABLED": "false",
    })
    env["PATH"] = env["PATH"].replace("$PATH", os.environ.get("PATH", "/usr/bin:/bin"))
    (tmp_path / "run").mkdir(mode=0o700)
    command = _json_command("CMD")
    healthcheck = _healthcheck_command()
    log_path = tmp_path / "server.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        try:
            def healthy() -> bool:
                assert process.poll() is None, log_path.read_text()[-3000:]
                return subprocess.run(healthcheck, env=env, capture_output=True,
                                      timeout=10).returncode == 0

            assert wait_for(healthy, timeout=START_SECONDS, interval=0.5), \
                log_path.read_text()[-3000:]
            assert (tmp_path / "data" / "timetracker.db").exists()  # migrated before serving
            with requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
                assert 'tt_app_info{version="0.0.0-dev"} 1.0' in response.text
            assert (tmp_path / "log" / "app.jsonl").exists()
            assert "control socket" not in log_path.read_text().lower().replace("control socket listening", "")
        finally:
            _stop(process)


def _stop(process: subprocess.Popen) -> None:
    """SIGTERM to the server's process group (gunicorn and its workers), bounded."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(5)


def _healthcheck_command() -> list[str]:
    for keyword, rest in _runtime_stage():
        if keyword == "HEALTHCHECK":
            return json.loads(rest[rest.index("CMD") + 3:].strip())
    raise AssertionError("no HEALTHCHECK in the Dockerfile")
