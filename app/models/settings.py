"""System settings an admin edits in the UI: one row, id 1."""

from __future__ import annotations

from ..extensions import db
from .types import UTCDateTime, utcnow


class Settings(db.Model):
    __tablename__ = "settings"

    id = db.Column(db.Integer, primary_key=True)
    company_name = db.Column(db.String(200), nullable=False, default="TimeTracker")
    default_timezone = db.Column(db.String(64), nullable=False, default="UTC")
    currency = db.Column(db.String(3), nullable=False, default="EUR")
    # Detailed product analytics consent, three states: None = not asked yet
    # (treated as off), True = an admin opted in, False = an admin opted out.
    allow_analytics = db.Column(db.Boolean, nullable=True)
    setup_completed_at = db.Column(UTCDateTime, nullable=True)
    updated_at = db.Column(UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow)

    __table_args__ = (db.CheckConstraint("id = 1", name="single_row"),)

    @property
    def is_setup_complete(self) -> bool:
        return self.setup_completed_at is not None
