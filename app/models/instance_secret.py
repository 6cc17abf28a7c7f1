"""Secrets the install generates for itself and every replica shares (one row per name)."""

from __future__ import annotations

from ..extensions import db
from .types import UTCDateTime, utcnow


class InstanceSecret(db.Model):
    """A named secret, written once (a conditional insert) and never changed by the app.

    Today the only one is ``session`` (Flask's SECRET_KEY when the environment sets
    none). It lives in its own table, not in the settings row, so that nothing that
    loads or shows the settings ever holds it.
    """

    __tablename__ = "instance_secrets"

    name = db.Column(db.String(64), primary_key=True)
    value = db.Column(db.String(256), nullable=False)
    created_at = db.Column(UTCDateTime, nullable=False, default=utcnow)
