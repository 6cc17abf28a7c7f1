"""The session signing key when the environment sets none: one per install, in the database.

Several replicas behind one load balancer must sign sessions (and CSRF tokens, and
remember-me cookies) with the same key, or a session made on one bounces on the
next. A key kept in ``DATA_DIR`` works for one process tree on one disk; the
database is what every replica shares. So the key is generated once into the
``instance_secrets`` table with a conditional insert (``ON CONFLICT DO NOTHING`` on
the primary key): of several processes starting together exactly one row wins, and
every process then reads that row back.

Upgrade path: an install that already has ``DATA_DIR/secret_key`` offers that key
instead of a new one, so its sessions survive. A file whose key differs from the
database's (a replica that once ran on its own) is ignored with a warning.

The key itself is never logged or put in an exception message.
"""

from __future__ import annotations

import logging
import secrets
from pathlib import Path

from sqlalchemy import Engine, select
from sqlalchemy.exc import SQLAlchemyError

from ..models import InstanceSecret

log = logging.getLogger("app.secret_key")

SESSION_KEY_NAME = "session"
LEGACY_FILE_NAME = "secret_key"
_TABLE = InstanceSecret.__table__


class SecretKeyUnavailable(RuntimeError):
    """The database could not give a key (down, or not migrated yet)."""


def read_legacy_file(data_dir: Path) -> str | None:
    """The key an earlier version generated into ``DATA_DIR/secret_key``, if any."""
    try:
        key = (data_dir / LEGACY_FILE_NAME).read_text().strip()
    except FileNotFoundError:
        return None
    except OSError as exc:
        log.warning("secret_key.legacy_file_unreadable", extra={"problem": type(exc).__name__})
        return None
    return key or None


def load_or_create(engine: Engine, data_dir: Path) -> str:
    """The install's session key from the database, created (or adopted) once.

    Raises :class:`SecretKeyUnavailable` when the database cannot answer.
    """
    legacy = read_legacy_file(data_dir)
    try:
        key = _select(engine)
        if key is None:
            _insert_if_absent(engine, legacy or secrets.token_hex(32))
            key = _select(engine)
            if key is not None and legacy is not None and key == legacy:
                log.info("secret_key.adopted_from_file",
                         extra={"path": str(data_dir / LEGACY_FILE_NAME)})
    except SQLAlchemyError as exc:
        raise SecretKeyUnavailable(type(exc).__name__) from None
    if key is None:  # only if someone deleted the row between our insert and select
        raise SecretKeyUnavailable("no key row after the insert")
    if legacy is not None and legacy != key:
        log.warning("secret_key.legacy_file_ignored", extra={
            "path": str(data_dir / LEGACY_FILE_NAME),
            "reason": "the database holds another key, which every replica uses"})
    return key


def _select(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return conn.execute(select(_TABLE.c.value).where(_TABLE.c.name == SESSION_KEY_NAME)).scalar()


def _insert_if_absent(engine: Engine, key: str) -> None:
    """INSERT ... ON CONFLICT DO NOTHING: a loser of the race changes nothing and raises
    nothing (PostgreSQL would log a unique violation for a plain INSERT that fails)."""
    if engine.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    from ..models.types import utcnow

    statement = insert(_TABLE).values(name=SESSION_KEY_NAME, value=key, created_at=utcnow())
    with engine.begin() as conn:
        conn.execute(statement.on_conflict_do_nothing(index_elements=[_TABLE.c.name]))
