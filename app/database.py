"""The database file and connections: a new SQLite file private to its owner, SQLite's
pragmas on every connection, and PostgreSQL's pooled connections tested after sitting idle."""

from __future__ import annotations

import os
import time

from flask import Flask
from sqlalchemy import Engine, event
from sqlalchemy.exc import DisconnectionError

from .extensions import db

# A pooled PostgreSQL connection unused for longer than this is tested before use.
POOL_PING_AFTER_IDLE_SECONDS = 1.0


def create_private_sqlite_file(uri: str) -> None:
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


def init_app(app: Flask) -> None:
    """Attach the engine's connection listeners (after ``db.init_app``)."""
    with app.app_context():
        engine = db.engine
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        _enable_sqlite_pragmas(engine)
    else:
        _ping_idle_connections(engine)


def _enable_sqlite_pragmas(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):  # pragma: no cover - trivial
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()


def _ping_idle_connections(engine: Engine) -> None:
    """Test a pooled connection before use when it has been idle, not before every use.

    ``pool_pre_ping`` sent a ``SELECT 1`` at every checkout: a round trip and about a
    fifth of the CPU of a token-authenticated API read (docs/performance.md). What it
    guards against, a connection the server closed (a restart, an idle timeout), happens
    to connections that sat in the pool; one used a moment ago is alive. A dead one is
    reported to the pool as a disconnect, and the pool hands out a fresh connection
    instead (SQLAlchemy's recipe for custom pessimistic pings).
    """
    dialect = engine.dialect

    @event.listens_for(engine, "checkin")
    def _note_idle_since(_dbapi_connection, record):
        if record is not None:
            record.info["tt_idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_connection, record, _proxy):
        idle_since = record.info.get("tt_idle_since")
        if idle_since is None or time.monotonic() - idle_since < POOL_PING_AFTER_IDLE_SECONDS:
            return  # new, or used a moment ago
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as exc:
            raise DisconnectionError("pooled connection is gone") from exc
