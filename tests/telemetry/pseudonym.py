"""The pseudonymous user id, recomputed from the settings row (not by the client's code)."""

from __future__ import annotations

import hashlib
import hmac

from sqlalchemy import select

from app.extensions import db
from app.models import Settings


def expected_pseudonym(app, user_id: int) -> str:
    """HMAC-SHA256 of the internal id under the install's key in the row, 16 hex characters."""
    with app.app_context():
        key = db.session.scalar(select(Settings.telemetry_pseudonym_key).where(Settings.id == 1))
    assert key, "the install has no pseudonym key"
    return hmac.new(key.encode(), str(user_id).encode(), hashlib.sha256).hexdigest()[:16]
