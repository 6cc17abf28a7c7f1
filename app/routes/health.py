"""Liveness and readiness probes: JSON, no auth, no session cookie."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify
from sqlalchemy import text

from ..extensions import csrf, db

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """The process is up and serving requests."""
    return _no_session(jsonify(status="ok", version=current_app.config["APP_VERSION"]))


@bp.get("/readyz")
def readyz():
    """The database answers and accepts writes; route traffic here only when 200.

    A database that answers SELECT but refuses every write (a read-only SQLite
    file or folder, a PostgreSQL standby) is not ready: every form would fail.
    """
    try:
        writable = _database_accepts_writes()
    except Exception as exc:  # any driver error means "not ready"
        db.session.rollback()
        current_app.logger.warning("readiness check failed: %s", type(exc).__name__)
        return _no_session(jsonify(status="unavailable", database="unreachable")), 503
    if not writable:
        current_app.logger.warning("readiness check failed: database is read-only")
        return _no_session(jsonify(status="unavailable", database="read-only")), 503
    return _no_session(jsonify(status="ok", database="ok"))


def _database_accepts_writes() -> bool:
    """True when a write would succeed, without writing anything.

    SQLite: take the write lock and rewrite the header's user_version with its own
    value, then roll back; a read-only file, folder or connection fails right
    there ("attempt to write a readonly database"). The lock is waited for at most
    two seconds, not the app's fifteen. PostgreSQL: ``transaction_read_only``.
    """
    if db.engine.dialect.name != "sqlite":
        return db.session.execute(text("SHOW transaction_read_only")).scalar() == "off"
    db.session.rollback()  # the probe needs the connection outside any transaction
    with db.engine.connect() as conn:
        raw = conn.connection.dbapi_connection
        previous = raw.execute("PRAGMA busy_timeout").fetchone()[0]
        raw.execute("PRAGMA busy_timeout = 2000")
        if raw.in_transaction:  # a pooled connection is clean; never write into someone's
            raw.execute("ROLLBACK")
        try:
            raw.execute("BEGIN IMMEDIATE")
            version = raw.execute("PRAGMA user_version").fetchone()[0]
            raw.execute(f"PRAGMA user_version = {int(version)}")
        except Exception as exc:
            if "readonly" in str(exc).lower():
                return False
            raise
        finally:
            if raw.in_transaction:
                raw.execute("ROLLBACK")
            raw.execute(f"PRAGMA busy_timeout = {int(previous)}")
    return True


def _no_session(response):
    response.headers["Cache-Control"] = "no-store"
    return response


csrf.exempt(bp)
