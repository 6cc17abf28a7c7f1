"""Feature flags: defined in code with defaults, overridable by admins and by ``FEATURE_FLAGS``.

Every flag here is read by the behaviour its description names (a flag that
nothing reads is a control that does nothing). Precedence, strongest first: ``FEATURE_FLAGS=name=on,other=off`` (the operator's deployment),
an admin's override in Admin → Settings (the ``feature_flag_overrides`` table), the default
here. Flags are read per request (cached in ``g``), so an admin's change applies in every
worker with the next request.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import wraps

from flask import abort, current_app, g, has_app_context, has_request_context
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from ..extensions import db
from ..models.types import UTCDateTime, utcnow

log = logging.getLogger("app.telemetry")


@dataclass(frozen=True)
class Flag:
    name: str
    default: bool
    description: str


FLAGS: dict[str, Flag] = {
    flag.name: flag
    for flag in [
        # Read by app/routes/reports.py (both views answer 404 when off) and by the
        # templates (the Reports link and the entries list's Export CSV button). The API's
        # report and export are not gated: scripts keep working.
        Flag("reports_page", True, "The Reports page and the CSV export of the web UI."),
    ]
}


class FeatureFlagOverride(db.Model):
    __tablename__ = "feature_flag_overrides"

    name = db.Column(db.String(64), primary_key=True)
    enabled = db.Column(db.Boolean, nullable=False)
    updated_at = db.Column(UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow)


def _overrides() -> dict[str, bool]:
    if has_request_context() and "feature_flag_overrides" in g:
        return g.feature_flag_overrides
    try:
        rows = db.session.execute(select(FeatureFlagOverride.name, FeatureFlagOverride.enabled)).all()
        overrides = {name: enabled for name, enabled in rows}
    except SQLAlchemyError:  # before migrations ran: defaults
        db.session.rollback()
        overrides = {}
    if has_request_context():
        g.feature_flag_overrides = overrides
    return overrides


def flag_source(name: str) -> str:
    """Where a flag's value comes from: env, admin or default."""
    if name in current_app.config.get("FEATURE_FLAGS", {}):
        return "env"
    if name in _overrides():
        return "admin"
    return "default"


def get_feature_flag(user, name: str, default: bool | None = None) -> bool:
    """Whether flag ``name`` is on (for ``user``: reserved for per-user rollout, unused yet).

    An unknown name returns ``default`` (False if not given) and logs a warning.
    """
    if not has_app_context():
        return bool(default)
    env = current_app.config.get("FEATURE_FLAGS", {})
    if name in env:
        return env[name]
    overrides = _overrides()
    if name in overrides:
        return overrides[name]
    flag = FLAGS.get(name)
    if flag is None:
        log.warning("feature_flag.unknown", extra={"flag": name})
        return bool(default)
    return flag.default


def all_flags() -> dict[str, bool]:
    """Every flag's current value (for templates and JS: ``feature_flags``)."""
    from flask_login import current_user

    user = current_user if has_request_context() else None
    return {name: get_feature_flag(user, name) for name in FLAGS}


def set_override(name: str, enabled: bool | None) -> None:
    """Store an admin override (None removes it, back to the default)."""
    if name not in FLAGS:
        raise KeyError(name)
    row = db.session.get(FeatureFlagOverride, name)
    if enabled is None:
        if row is not None:
            db.session.delete(row)
    elif row is None:
        db.session.add(FeatureFlagOverride(name=name, enabled=bool(enabled)))
    else:
        row.enabled = bool(enabled)
    db.session.commit()
    if has_request_context():
        g.pop("feature_flag_overrides", None)


def feature_flag_required(name: str):
    """Route decorator: 404 unless flag ``name`` is on."""

    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            from flask_login import current_user

            if not get_feature_flag(current_user, name):
                abort(404)
            return view(*args, **kwargs)

        return wrapper

    return decorate
