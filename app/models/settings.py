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
    # Install state: this row is its one owner, shared by every process and replica
    # (installation.json in DATA_DIR mirrors it; app/telemetry/store.py changes it,
    # always with conditional UPDATEs).
    install_id = db.Column(db.String(36), nullable=True)  # random UUID4, set once
    analytics_changed_by = db.Column(db.String(80), nullable=True)
    analytics_changed_at = db.Column(UTCDateTime, nullable=True)
    # What an opt-in was given for: the catalogue's version and its events and properties
    # (JSON), so a later catalogue that sends more pauses and can show what changed.
    analytics_catalogue_version = db.Column(db.String(16), nullable=True)
    analytics_consented_shape = db.Column(db.Text, nullable=True)
    # Keys the HMAC that turns internal user ids into pseudonyms; never leaves the database.
    telemetry_pseudonym_key = db.Column(db.String(64), nullable=True)
    # Base telemetry: recorded only after the receiver acknowledged the event. A
    # process that is sending holds a short lease (``*_claimed_until``) so no other
    # sends the same event meanwhile; a lease left by a crash simply expires.
    first_seen_sent_at = db.Column(UTCDateTime, nullable=True)
    first_seen_claimed_until = db.Column(UTCDateTime, nullable=True)
    last_heartbeat_day = db.Column(db.Date, nullable=True)  # UTC day of the last heartbeat
    last_heartbeat_at = db.Column(UTCDateTime, nullable=True)
    heartbeat_claimed_until = db.Column(UTCDateTime, nullable=True)
    updated_at = db.Column(UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow)

    __table_args__ = (db.CheckConstraint("id = 1", name="single_row"),)

    @property
    def is_setup_complete(self) -> bool:
        return self.setup_completed_at is not None
