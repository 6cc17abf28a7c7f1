"""The install state in the settings row: read it, and change it with conditional UPDATEs.

The row (``settings``, id 1) is the one owner of the install id, setup, the consent
choice and the base events' confirmed deliveries, because it is the one thing every
worker and every replica share. Every change here is a single UPDATE whose WHERE
clause states what must still be true, so two processes racing for the same change
get one winner and no lost update, on SQLite and PostgreSQL alike.

Statements run on their own short connection from the engine (never the request's
session), so a check from a request or the export thread never joins, commits or
rolls back anybody else's transaction.
"""

from __future__ import annotations

import json
import secrets
import uuid
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, and_, or_, select, update
from sqlalchemy.exc import SQLAlchemyError

from ..models import Settings
from .installation import InstallState, isoformat

_ROW = Settings.__table__
_C = _ROW.c


class StoreUnavailable(RuntimeError):
    """The settings row cannot be read (database down, or not migrated yet)."""


def load(engine: Engine) -> InstallState | None:
    """The row as an :class:`InstallState`, or None when there is no row yet."""
    try:
        with engine.connect() as conn:
            row = conn.execute(select(
                _C.install_id, _C.setup_completed_at, _C.allow_analytics,
                _C.analytics_changed_by, _C.analytics_changed_at, _C.first_seen_sent_at,
                _C.last_heartbeat_day, _C.last_heartbeat_at, _C.analytics_catalogue_version,
            ).where(_C.id == 1)).first()
    except SQLAlchemyError as exc:
        raise StoreUnavailable(type(exc).__name__) from exc
    if row is None:
        return None
    return InstallState(
        install_id=row.install_id or "",
        setup_complete=row.setup_completed_at is not None,
        telemetry_enabled=row.allow_analytics,
        telemetry_changed_by=row.analytics_changed_by,
        telemetry_changed_at=_iso(row.analytics_changed_at),
        first_seen_sent_at=_iso(row.first_seen_sent_at),
        last_heartbeat_at=_iso(row.last_heartbeat_at),
        last_heartbeat_day=row.last_heartbeat_day.isoformat() if row.last_heartbeat_day else None,
        consented_catalogue_version=row.analytics_catalogue_version,
    )


def default_timezone(engine: Engine) -> str | None:
    """The install's default time zone (Admin → Settings), for the base payload."""
    return _column(engine, _C.default_timezone)


def _iso(moment: datetime | None) -> str | None:
    return isoformat(moment) if moment is not None else None


def _execute(engine: Engine, statement) -> int:
    try:
        with engine.begin() as conn:
            return conn.execute(statement).rowcount
    except SQLAlchemyError as exc:
        raise StoreUnavailable(type(exc).__name__) from exc


def adopt_or_create_install_id(engine: Engine, file_state: InstallState | None) -> bool:
    """Give the row an install id once: the file's (the upgrade path) or a new random one.

    From the file also come the deliveries it recorded, so an upgraded install neither
    changes its id nor sends first_seen again. Returns whether this call set the id.
    """
    values: dict[str, Any] = {"install_id": str(uuid.uuid4())}
    if file_state is not None and file_state.problem is None and file_state.install_id:
        values["install_id"] = file_state.install_id
        values.update(_deliveries_from_file(file_state))
    return _execute(engine, update(_ROW).where(_C.id == 1, _C.install_id.is_(None))
                    .values(**values)) == 1


def _deliveries_from_file(state: InstallState) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for column, text in (("first_seen_sent_at", state.first_seen_sent_at),
                         ("last_heartbeat_at", state.last_heartbeat_at)):
        moment = _parse_iso(text)
        if moment is not None:
            values[column] = moment
    if state.last_heartbeat_day:
        try:
            values["last_heartbeat_day"] = date.fromisoformat(state.last_heartbeat_day)
        except ValueError:
            pass
    return values


def _parse_iso(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def set_consent(engine: Engine, enabled: bool, changed_by: str, now: datetime, *,
                version: str, shape: dict, accept: bool) -> bool:
    """Store the detailed-analytics choice; returns whether it changed (False: already so).

    An opt-in records the catalogue ``version`` and ``shape`` it was given for. With
    ``accept`` (only callers that showed the catalogue's changes: Admin → Telemetry, the
    wizard, ``flask telemetry enable``, the API given the version) an opt-in given for an
    older catalogue is replaced, which is how an admin accepts what is new. Without it the
    opt-in is a fresh one only: it changes nothing while an opt-in for another catalogue is
    stored (paused), so no page that hides the changes can accept them.

    One conditional UPDATE: of two racing choices each lands whole or not at all, and the
    row always holds one request's outcome (every column of it), on both databases.
    """
    values: dict[str, Any] = {"allow_analytics": enabled, "analytics_changed_by": changed_by[:80],
                              "analytics_changed_at": now}
    if enabled:
        values.update(analytics_catalogue_version=version,
                      analytics_consented_shape=json.dumps(shape, sort_keys=True))
        differs = or_(_C.allow_analytics.is_not(True), _C.analytics_catalogue_version.is_(None),
                      _C.analytics_catalogue_version != version) if accept \
            else _C.allow_analytics.is_not(True)
    else:
        differs = _C.allow_analytics.is_not(False)
    return _execute(engine, update(_ROW).where(_C.id == 1, differs).values(**values)) == 1


def record_setup_consent(engine: Engine, version: str, shape: dict) -> bool:
    """Setup's opt-in was given for the catalogue of this version: record it (once)."""
    return _execute(engine, update(_ROW).where(
        _C.id == 1, _C.allow_analytics.is_(True), _C.analytics_catalogue_version.is_(None),
    ).values(analytics_catalogue_version=version,
             analytics_consented_shape=json.dumps(shape, sort_keys=True))) == 1


def _column(engine: Engine, column) -> Any:
    """One column of the row (None when there is no row)."""
    try:
        with engine.connect() as conn:
            return conn.execute(select(column).where(_C.id == 1)).scalar()
    except SQLAlchemyError as exc:
        raise StoreUnavailable(type(exc).__name__) from exc


def consented_shape(engine: Engine) -> dict | None:
    """The events and properties the stored opt-in was given for (None: not recorded)."""
    raw = _column(engine, _C.analytics_consented_shape)
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None


def pseudonym_key(engine: Engine) -> str | None:
    """The install's HMAC key for user ids, created once (conditional UPDATE) when missing."""
    key = _column(engine, _C.telemetry_pseudonym_key)
    if key:
        return key
    _execute(engine, update(_ROW).where(_C.id == 1, _C.telemetry_pseudonym_key.is_(None))
             .values(telemetry_pseudonym_key=secrets.token_hex(32)))
    return _column(engine, _C.telemetry_pseudonym_key)


# -- base events: claim (a lease), then confirm or release --------------------


def claim_first_seen(engine: Engine, now: datetime, lease: timedelta) -> datetime | None:
    """Take the right to send first_seen for ``lease``; returns the lease's end, or None.

    Only after setup, only while it was never confirmed, and only when nobody else
    holds an unexpired lease. The lease's end (microseconds) doubles as its token.
    """
    until = now + lease
    claimed = _execute(engine, update(_ROW).where(
        _C.id == 1, _C.setup_completed_at.is_not(None), _C.install_id.is_not(None),
        _C.first_seen_sent_at.is_(None),
        or_(_C.first_seen_claimed_until.is_(None), _C.first_seen_claimed_until < now),
    ).values(first_seen_claimed_until=until))
    return until if claimed == 1 else None


def confirm_first_seen(engine: Engine, sent_at: datetime) -> None:
    """The receiver acknowledged first_seen: record it (once) and end the lease."""
    _execute(engine, update(_ROW).where(_C.id == 1, _C.first_seen_sent_at.is_(None))
             .values(first_seen_sent_at=sent_at, first_seen_claimed_until=None))


def release_first_seen(engine: Engine, lease_until: datetime) -> None:
    """Sending failed: give the lease back (only ours) so the next try may start at once."""
    _execute(engine, update(_ROW).where(_C.id == 1, _C.first_seen_claimed_until == lease_until)
             .values(first_seen_claimed_until=None))


def claim_heartbeat(engine: Engine, day: date, now: datetime, lease: timedelta) -> datetime | None:
    """Take the right to send the heartbeat of UTC ``day``; returns the lease's end, or None."""
    until = now + lease
    claimed = _execute(engine, update(_ROW).where(
        _C.id == 1, _C.setup_completed_at.is_not(None), _C.install_id.is_not(None),
        _C.first_seen_sent_at.is_not(None),
        or_(_C.last_heartbeat_day.is_(None), _C.last_heartbeat_day < day),
        or_(_C.heartbeat_claimed_until.is_(None), _C.heartbeat_claimed_until < now),
    ).values(heartbeat_claimed_until=until))
    return until if claimed == 1 else None


def confirm_heartbeat(engine: Engine, day: date, sent_at: datetime) -> None:
    _execute(engine, update(_ROW).where(
        _C.id == 1, or_(_C.last_heartbeat_day.is_(None), _C.last_heartbeat_day < day),
    ).values(last_heartbeat_day=day, last_heartbeat_at=sent_at, heartbeat_claimed_until=None))


def release_heartbeat(engine: Engine, lease_until: datetime) -> None:
    _execute(engine, update(_ROW).where(
        and_(_C.id == 1, _C.heartbeat_claimed_until == lease_until),
    ).values(heartbeat_claimed_until=None))
