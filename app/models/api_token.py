"""Personal API tokens: a user's credential for ``Authorization: Bearer ...``."""

from __future__ import annotations

from ..extensions import db
from .types import UTCDateTime, utcnow


class ApiToken(db.Model):
    __tablename__ = "api_tokens"

    id = db.Column(db.Integer, primary_key=True)
    user_id = db.Column(
        db.Integer, db.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    name = db.Column(db.String(100), nullable=False)
    # SHA-256 of the token, hex. A plain fast hash is enough here (unlike for
    # passwords): the token is 256 bits from ``secrets``, so a stolen hash
    # cannot be reversed by guessing, and a constant-cost hash lets every API
    # request look its token up by an indexed equality instead of trying a
    # slow KDF against each stored row.
    token_hash = db.Column(db.String(64), nullable=False, unique=True)
    # The first characters of the token, shown in the UI so a user can tell
    # tokens apart; too short to help an attacker.
    prefix = db.Column(db.String(16), nullable=False)
    created_at = db.Column(UTCDateTime, nullable=False, default=utcnow)
    last_used_at = db.Column(UTCDateTime, nullable=True)
    revoked_at = db.Column(UTCDateTime, nullable=True)
    expires_at = db.Column(UTCDateTime, nullable=True)  # NULL: never expires
    # "full": everything the user may do; "read": GET/HEAD/OPTIONS only.
    scope = db.Column(db.String(16), nullable=False, default="full", server_default="full")

    user = db.relationship("User")

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def __repr__(self) -> str:  # never the hash or prefix: reprs end up in logs
        return f"<ApiToken id={self.id}>"
