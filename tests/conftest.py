"""Shared fixtures: one app per test, on SQLite and on PostgreSQL.

Every test that uses ``app`` (or a fixture built on it) runs twice: against a
SQLite file and against a real PostgreSQL database. Both schemas are built by
the Alembic migrations, never by ``create_all``, so the tests exercise what
``make run`` deploys. PostgreSQL tests skip with a reason when no server is
reachable, except in CI (``CI=true``) where that is a failure.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import uuid
from pathlib import Path

import psycopg
import pytest
from flask.testing import FlaskClient
from sqlalchemy import text

from app import create_app
from app.extensions import db, limiter

IN_CI = os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}
PG_ADMIN_DSN = os.environ.get("TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
ADMIN_PASSWORD = "correct-horse-battery"
USER_PASSWORD = "user-password-123"
_CSRF = re.compile(r'name="[\w-]*csrf_token"[^>]*value="([^"]+)"')


def require_or_skip(ok: bool, reason: str) -> None:
    """Skip outside CI; in CI a missing real component fails the run."""
    if ok:
        return
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: this suite must not skip)")
    pytest.skip(reason)


# -- network guard -------------------------------------------------------------

_real_connect = socket.socket.connect


@pytest.fixture(autouse=True)
def only_loopback_connections(monkeypatch):
    """Fail any test that opens a connection off this machine (Indico-style guard)."""

    def guarded_connect(sock, address):
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            host = address[0]
            if host not in {"127.0.0.1", "::1", "localhost"} and not host.startswith("127."):
                raise AssertionError(f"test tried to connect to {host}: only loopback is allowed")
        return _real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)


# -- databases -----------------------------------------------------------------


def _migrate(url: str, data_dir: Path) -> None:
    from flask_migrate import upgrade

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "DATA_DIR": str(data_dir), "TESTING": True})
    with app.app_context():
        upgrade()
        db.engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    """A SQLite file migrated once per session; each test gets a copy."""
    folder = tmp_path_factory.mktemp("sqlite-template")
    path = folder / "template.db"
    _migrate(f"sqlite:///{path}", folder)
    return path


def _postgres_reachable() -> bool:
    try:
        with psycopg.connect(PG_ADMIN_DSN, connect_timeout=3):
            return True
    except psycopg.Error:
        return False


@pytest.fixture(scope="session")
def postgres_url(tmp_path_factory):
    """A fresh PostgreSQL database for this test session, migrated, dropped at the end."""
    require_or_skip(_postgres_reachable(), f"PostgreSQL not reachable at {PG_ADMIN_DSN}")
    name = f"tt_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    url = f"{base}/{name}"
    _migrate(url, tmp_path_factory.mktemp("pg-migrate"))
    yield url
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


_RESET_PG = """
TRUNCATE time_entry_tags, tags, time_entries, tasks, projects, clients, users, settings,
    instance_secrets, telemetry_outbox, feature_flag_overrides RESTART IDENTITY CASCADE;
INSERT INTO settings (id, company_name, default_timezone, currency, updated_at)
VALUES (1, 'TimeTracker', 'UTC', 'EUR', now() AT TIME ZONE 'utc');
"""


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    if request.param == "sqlite":
        path = tmp_path / "timetracker.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    url = request.getfixturevalue("postgres_url")
    yield url
    reset_postgres(url)


def reset_postgres(url: str) -> None:
    """Empty the session's PostgreSQL database again: no rows, a fresh settings row."""
    with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute(_RESET_PG)


@pytest.fixture
def db_backend(database_url) -> str:
    return "sqlite" if database_url.startswith("sqlite") else "postgresql"


# -- app and clients -------------------------------------------------------------


class FormClient(FlaskClient):
    """A test client that posts forms the way a browser does: with a CSRF token.

    The token is read from a real rendered page, so CSRF stays switched on in
    every test; a test that wants to omit it passes ``csrf=False``.
    """

    token_page = "/"

    def csrf_token(self, page: str | None = None) -> str:
        response = self.get(page or self.token_page, follow_redirects=True)
        match = _CSRF.search(response.get_data(as_text=True))
        assert match, f"no CSRF token on {page or self.token_page}"
        return match.group(1)

    def post_form(self, url: str, data: dict | None = None, *, csrf: bool = True,
                  token_page: str | None = None, **kwargs):
        data = dict(data or {})
        if csrf:
            data["csrf_token"] = self.csrf_token(token_page)
        return self.post(url, data=data, **kwargs)


@pytest.fixture
def app_factory(database_url, tmp_path):
    """Build apps on this test's database; extra config overrides the defaults."""
    built = []

    def build(**overrides):
        config = {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": database_url,
            "DATA_DIR": str(tmp_path / "data"),
            "LOG_DIR": str(tmp_path / "logs"),
            "RATELIMIT_STORAGE_URI": "memory://",
            "SERVER_NAME": None,
            # Tests read a request's lines right after it; the batching itself is
            # tested in tests/observability/test_log_batching.py.
            "LOG_FLUSH_SECONDS": 0.0,
        }
        config.update(overrides)
        app = create_app(config)
        app.test_client_class = FormClient
        built.append(app)
        return app

    yield build
    for app in built:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    limiter.reset()


@pytest.fixture
def app(app_factory):
    """An app whose first-run setup has not happened yet."""
    return app_factory()


@pytest.fixture
def ready_app(app):
    """An app after setup: admin ``admin`` exists, analytics not opted in."""
    from app.services.setup import complete_setup

    with app.app_context():
        complete_setup(admin_username="admin", admin_password=ADMIN_PASSWORD, allow_analytics=False,
                       admin_email="admin@example.org")
    return app


@pytest.fixture
def client(ready_app) -> FormClient:
    return ready_app.test_client()


def login(client: FormClient, username: str, password: str, **extra):
    return client.post_form(
        "/login", {"username": username, "password": password, **extra}, token_page="/login"
    )


@pytest.fixture
def admin_client(ready_app) -> FormClient:
    client = ready_app.test_client()
    response = login(client, "admin", ADMIN_PASSWORD)
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


@pytest.fixture
def make_user(ready_app):
    from app.services.users import create_user

    def make(username: str = "alice", role: str = "user", timezone: str = "UTC", **kwargs):
        with ready_app.app_context():
            user = create_user(username=username, password=USER_PASSWORD, role=role,
                               timezone=timezone, **kwargs)
            return user.id

    return make


@pytest.fixture
def user_client(ready_app, make_user) -> FormClient:
    make_user("alice", email="alice@example.org")
    client = ready_app.test_client()
    assert login(client, "alice", USER_PASSWORD).status_code == 302
    return client


@pytest.fixture
def make_project(ready_app):
    """Create a client+project(+task) through the services; returns their ids."""
    from app.services import catalog

    def make(name: str = "Website", client_name: str | None = "Acme", task: str | None = None,
             billable: bool = True):
        with ready_app.app_context():
            client = catalog.create_client(name=client_name) if client_name else None
            project = catalog.create_project(name=name, client_id=client.id if client else None,
                                             billable=billable)
            task_id = catalog.create_task(actor=None, project_id=project.id, name=task).id if task else None
            return {"client_id": client.id if client else None, "project_id": project.id,
                    "task_id": task_id}

    return make


def form_refused(response, message: str) -> bool:
    """A web form re-rendered with its error: 200 (docs/development.md) and the message shown."""
    body = response.get_data(as_text=True)
    assert response.status_code == 200, response.status_code
    assert message in body, f"{message!r} not on the page"
    return True


def login_refused(response) -> bool:
    return form_refused(response, "Invalid username or password.")


def count_rows(app, model) -> int:
    from sqlalchemy import func, select

    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


__all__ = ["count_rows", "form_refused", "login", "login_refused", "require_or_skip",
           "reset_postgres", "text"]
