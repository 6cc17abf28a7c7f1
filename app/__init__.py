"""TimeTracker: a self-hosted time tracker with built-in observability.

``create_app`` is the only place the application is assembled; importing this
package has no side effects (no logging setup, no connections, no threads).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any, Mapping

import click
from flask import Flask
from flask.sessions import SecureCookieSessionInterface

from . import config as config_module
from . import observability
from .extensions import csrf, db, limiter, login_manager, migrate
from .observability import log_event  # noqa: F401  (re-exported: `from app import log_event`)
from . import telemetry

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def create_app(config: Mapping[str, Any] | object | None = None) -> Flask:
    """Build the application: config → extensions → observability → blueprints → CLI."""
    app = Flask(__name__, instance_relative_config=False)
    app.config.update(config_module.from_environ())
    if config is not None:
        if isinstance(config, Mapping):
            app.config.update(config)
        else:
            app.config.from_object(config)
    _prepare_directories(app)
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)  # tokens live as long as the session
    app.config.setdefault("SESSION_COOKIE_HTTPONLY", True)
    # Flask's defaults hold SESSION_COOKIE_SAMESITE=None, so setdefault never applied:
    # Lax unless a caller chose a value (a cross-site POST then carries no session).
    if app.config.get("SESSION_COOKIE_SAMESITE") is None:
        app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config.setdefault("REMEMBER_COOKIE_HTTPONLY", True)
    # Flask-Limiter adds Retry-After (and X-RateLimit-*) to the throttled login's 429.
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", True)
    # With a Redis storage that goes away, count per worker in memory meanwhile
    # instead of failing every login with a 500.
    app.config.setdefault("RATELIMIT_IN_MEMORY_FALLBACK_ENABLED", True)
    app.config.setdefault("REMEMBER_COOKIE_SAMESITE", "Lax")
    # Flask's defaults already hold MAX_CONTENT_LENGTH=None, so setdefault
    # would never apply: cap request bodies unless a caller chose a value.
    if app.config.get("MAX_CONTENT_LENGTH") is None:
        app.config["MAX_CONTENT_LENGTH"] = 1 * 1024 * 1024
    app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", _engine_options(app))

    _trust_reverse_proxies(app)
    _init_extensions(app)
    observability.init_app(app)
    _init_secret_key(app)
    telemetry.init_app(app)
    _register_blueprints(app)
    _register_template_helpers(app)

    from . import security

    security.init_app(app)

    from .cli import register_cli

    register_cli(app)
    _start_scheduler(app)
    return app


def _start_scheduler(app: Flask) -> None:
    """One APScheduler per process; a lease in the database lets one process send each base
    event."""
    if app.config.get("TESTING") or not app.config.get("SCHEDULER_ENABLED", True):
        return
    from .telemetry.jobs import start_scheduler

    start_scheduler(app)


class DataDirNotWritable(config_module.ConfigError, click.ClickException):
    """DATA_DIR cannot be created or written. A ClickException too, so that `flask db
    upgrade` (the first step of `make run` and of the container) prints this one line
    instead of a traceback; gunicorn.conf.py says the same before any worker starts."""

    def __init__(self, path: Path, exc: OSError):
        message = (f"TimeTracker cannot start: DATA_DIR {path} is not writable "
                   f"({exc.strerror}). Point DATA_DIR at a writable folder.")
        config_module.ConfigError.__init__(self, message)
        click.ClickException.__init__(self, message)


def _prepare_directories(app: Flask) -> None:
    data_dir = Path(app.config["DATA_DIR"])
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        # Written to at once (installation.json, a SQLite database): find out now, in one line.
        with tempfile.TemporaryFile(dir=data_dir):
            pass
    except OSError as exc:
        raise DataDirNotWritable(data_dir, exc) from None
    _create_private_sqlite_file(app.config["SQLALCHEMY_DATABASE_URI"])


def _init_secret_key(app: Flask) -> None:
    """SECRET_KEY from the environment, else the install's key from the database.

    The database is what every replica shares, so sessions and CSRF tokens made on
    one replica are valid on all (app/services/secret_key.py). It is read once here;
    when the database cannot answer yet (``flask db upgrade`` on a new database, or
    the database is down while a worker boots) the key is fetched when a request
    first needs a session, and until then no session can be signed at all (never
    with a stand-in key, which would split the replicas again).
    """
    if app.config.get("SECRET_KEY"):
        return
    import logging
    import threading

    from .services import secret_key

    with app.app_context():
        engine = db.engine
    data_dir = Path(app.config["DATA_DIR"])
    lock = threading.Lock()
    log = logging.getLogger("app.secret_key")

    def resolve(at_start: bool) -> bool:
        with lock:
            if app.config.get("SECRET_KEY"):
                return True
            try:
                app.config["SECRET_KEY"] = secret_key.load_or_create(engine, data_dir)
            except secret_key.SecretKeyUnavailable as exc:
                # At start this is routine for `flask db upgrade` on a new database.
                if at_start:
                    log.info("secret_key.deferred", extra={"problem": str(exc)})
                else:
                    log.warning("secret_key.unavailable", extra={"problem": str(exc)})
                return False
            return True

    if not resolve(at_start=True):
        app.session_interface = _KeyFromDatabaseSessions(resolve)


class _KeyFromDatabaseSessions(SecureCookieSessionInterface):
    """Flask's cookie sessions, fetching the key from the database on first need."""

    def __init__(self, resolve) -> None:
        self._resolve = resolve

    def get_signing_serializer(self, app: Flask):
        if not app.config.get("SECRET_KEY"):
            self._resolve(at_start=False)
        return super().get_signing_serializer(app)


def _create_private_sqlite_file(uri: str) -> None:
    """Create a new SQLite database file as 0600, like ``secret_key``.

    It holds password and token hashes and everyone's notes; SQLite would create
    it with the umask (0644: readable by every local user). Its -wal and -shm files
    inherit the database file's mode. An existing file is left as the operator set it.
    """
    prefix = "sqlite:///"
    if not uri.startswith(prefix):
        return
    path = uri[len(prefix):].split("?", 1)[0]
    if not path or path == ":memory:" or path.startswith("file:"):
        return
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    except OSError:  # a folder that cannot be written: SQLite will say so when it opens
        return
    os.close(fd)  # an empty file is a valid, empty SQLite database


def _trust_reverse_proxies(app: Flask) -> None:
    """Behind N proxies, take the client address and scheme from their headers.

    Without this every request would appear to come from the proxy, and the
    per-address login throttle would lock out everyone at once.
    """
    hops = app.config.get("PROXY_FIX_X_FOR", 0)
    if hops:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)


def _engine_options(app: Flask) -> dict[str, Any]:
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    # A database error's message would otherwise carry "[parameters: ...]": note
    # text, emails, password hashes, into app.jsonl and Sentry events.
    options: dict[str, Any] = {"hide_parameters": True}
    if uri.startswith("sqlite"):
        # Wait for a writer instead of failing at once when gunicorn workers
        # or the timer and a report touch the file together.
        options["connect_args"] = {"timeout": 15}
    return options


# A pooled PostgreSQL connection unused for longer than this is tested before use.
POOL_PING_AFTER_IDLE_SECONDS = 1.0


def _init_extensions(app: Flask) -> None:
    from . import models  # noqa: F401  (registers the tables on db.metadata)

    db.init_app(app)
    migrate.init_app(app, db, directory=str(MIGRATIONS_DIR), render_as_batch=True, compare_type=True)
    login_manager.init_app(app)
    csrf.init_app(app)
    limiter.init_app(app)
    _enable_sqlite_foreign_keys(app)
    _ping_idle_connections(app)

    from .auth import load_user
    from .routes.auth import register_oidc

    register_oidc(app)

    login_manager.user_loader(load_user)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please sign in to continue."
    login_manager.login_message_category = "info"


def _enable_sqlite_foreign_keys(app: Flask) -> None:
    from sqlalchemy import event

    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        return

    with app.app_context():
        engine = db.engine

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):  # pragma: no cover - trivial
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()


def _ping_idle_connections(app: Flask) -> None:
    """Test a pooled connection before use when it has been idle, not before every use.

    ``pool_pre_ping`` sent a ``SELECT 1`` at every checkout: a round trip and about a
    fifth of the CPU of a token-authenticated API read (docs/performance.md). What it
    guards against, a connection the server closed (a restart, an idle timeout), happens
    to connections that sat in the pool; one used a moment ago is alive. A dead one is
    reported to the pool as a disconnect, and the pool hands out a fresh connection
    instead (SQLAlchemy's recipe for custom pessimistic pings).
    """
    import time as time_module

    from sqlalchemy import event
    from sqlalchemy.exc import DisconnectionError

    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        return
    with app.app_context():
        engine = db.engine
    dialect = engine.dialect

    @event.listens_for(engine, "checkin")
    def _note_idle_since(_dbapi_connection, record):
        if record is not None:
            record.info["tt_idle_since"] = time_module.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_connection, record, _proxy):
        idle_since = record.info.get("tt_idle_since")
        if idle_since is None or time_module.monotonic() - idle_since < POOL_PING_AFTER_IDLE_SECONDS:
            return  # new, or used a moment ago
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as exc:
            raise DisconnectionError("pooled connection is gone") from exc


def _register_blueprints(app: Flask) -> None:
    from .routes import register_blueprints

    register_blueprints(app)


def _register_template_helpers(app: Flask) -> None:
    from .routes.template_helpers import register_template_helpers

    register_template_helpers(app)
