"""Helpers for the deployment-stack tests: the repo's files, its tools, a live app.

The tools (docker-compose, promtool, prometheus, actionlint, hadolint) are the
ones that own each format; ``scripts/install-system-deps.sh`` and
``requirements-dev.txt`` install them. A missing tool skips locally and fails
in CI (``require_or_skip``).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
import yaml

from app import create_app
from app.extensions import db
from tests.conftest import ADMIN_PASSWORD, require_or_skip
from tests.support.threaded_server import threaded_server

REPO = Path(__file__).resolve().parents[2]
_CSRF = re.compile(r'name="[\w-]*csrf_token"[^>]*value="([^"]+)"')
HTTP_TIMEOUT_SECONDS = 10


def find_tool(name: str) -> str | None:
    """A command from this virtualenv's bin directory (pip-installed tools) or PATH."""
    local = Path(sys.executable).parent / name
    if local.exists():
        return str(local)
    return shutil.which(name)


def require_tool(name: str, installed_by: str) -> str:
    path = find_tool(name)
    require_or_skip(path is not None, f"{name} not installed ({installed_by})")
    return path


def compose_command() -> list[str] | None:
    """Debian's ``docker-compose`` (v1.29), else the ``docker compose`` plugin (v2)."""
    legacy = find_tool("docker-compose")
    if legacy:
        return [legacy]
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True,
                                 timeout=30).returncode == 0:
        return [docker, "compose"]
    return None


def load_yaml(relative: str):
    return yaml.safe_load((REPO / relative).read_text())


@dataclass
class LiveApp:
    url: str
    app: object
    log_dir: Path


@contextmanager
def running_app(sqlite_template: Path, folder: Path, **overrides):
    """The real app (setup done, one project) on a free 127.0.0.1 port, in a thread."""
    from app.services import catalog
    from app.services.setup import complete_setup

    folder.mkdir(parents=True, exist_ok=True)
    db_path = folder / "timetracker.db"
    shutil.copy(sqlite_template, db_path)
    config = {
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{db_path}",
        "DATA_DIR": str(folder / "data"),
        "LOG_DIR": str(folder / "logs"),
        "RATELIMIT_STORAGE_URI": "memory://",
    }
    config.update(overrides)
    app = create_app(config)
    with app.app_context():
        complete_setup(admin_username="admin", admin_password=ADMIN_PASSWORD, allow_analytics=False)
        catalog.create_project(name="Website")
    try:
        with threaded_server(app) as url:
            yield LiveApp(url, app, Path(config["LOG_DIR"]))
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def _csrf(session: requests.Session, url: str) -> str:
    response = session.get(url, timeout=HTTP_TIMEOUT_SECONDS)
    match = _CSRF.search(response.text)
    assert match, f"no CSRF token on {url} ({response.status_code})"
    return match.group(1)


def generate_traffic(base_url: str, *, leave_timer_running: bool = True) -> None:
    """What a person does: health probes, a 404, sign in, start and stop a timer."""
    with requests.Session() as anonymous:
        for path in ("/healthz", "/readyz", "/login", "/no-such-page"):
            anonymous.get(base_url + path, timeout=HTTP_TIMEOUT_SECONDS)
    with requests.Session() as browser:
        token = _csrf(browser, base_url + "/login")
        response = browser.post(base_url + "/login", timeout=HTTP_TIMEOUT_SECONDS, data={
            "username": "admin", "password": ADMIN_PASSWORD, "csrf_token": token,
        })
        assert response.ok, response.status_code
        token = _csrf(browser, base_url + "/")
        # A timer left running by an earlier call hides the project picker: stop it first.
        browser.post(base_url + "/timer/stop", data={"csrf_token": token}, timeout=HTTP_TIMEOUT_SECONDS)
        # Attribute order varies (the last project used is rendered "selected").
        project_id = re.search(r'<option[^>]*value="(\d+)"[^>]*>\s*Website', browser.get(
            base_url + "/", timeout=HTTP_TIMEOUT_SECONDS).text)
        assert project_id, "the dashboard offers no project to time"
        start = {"timer-project_id": project_id.group(1), "csrf_token": token}
        stop = {"csrf_token": token}
        for url, data in [("/timer/start", start), ("/timer/stop", stop)] + (
                [("/timer/start", start)] if leave_timer_running else []):
            response = browser.post(base_url + url, data=data, timeout=HTTP_TIMEOUT_SECONDS)
            assert response.ok, (url, response.status_code)
