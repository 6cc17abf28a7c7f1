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
    """The database answers; load balancers should route traffic here only when 200."""
    try:
        db.session.execute(text("SELECT 1"))
    except Exception as exc:  # any driver error means "not ready"
        db.session.rollback()
        current_app.logger.warning("readiness check failed: %s", type(exc).__name__)
        return _no_session(jsonify(status="unavailable", database="unreachable")), 503
    return _no_session(jsonify(status="ok", database="ok"))


def _no_session(response):
    response.headers["Cache-Control"] = "no-store"
    return response


csrf.exempt(bp)
