"""Time entries. A running timer is an entry whose ``ended_at`` is NULL."""

from __future__ import annotations

from sqlalchemy import Index, func, text

from ..extensions import db
from .tag import Tag, time_entry_tags
from .types import UTCDateTime, utcnow

SOURCE_TIMER = "timer"
SOURCE_MANUAL = "manual"


class TimeEntry(db.Model):
    __tablename__ = "time_entries"

    id = db.Column(db.Integer, primary_key=True)
    user_id = db.Column(
        db.Integer, db.ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    )
    project_id = db.Column(
        db.Integer, db.ForeignKey("projects.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    task_id = db.Column(
        db.Integer, db.ForeignKey("tasks.id", ondelete="SET NULL"), nullable=True, index=True
    )
    started_at = db.Column(UTCDateTime, nullable=False)
    ended_at = db.Column(UTCDateTime, nullable=True)
    # Kept in the row (not computed) so reports can SUM it in SQL on any database.
    duration_seconds = db.Column(db.Integer, nullable=True)
    notes = db.Column(db.Text, nullable=True)
    billable = db.Column(db.Boolean, nullable=False, default=True)
    source = db.Column(db.String(16), nullable=False, default=SOURCE_MANUAL)
    created_at = db.Column(UTCDateTime, nullable=False, default=utcnow)
    updated_at = db.Column(UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow)

    user = db.relationship("User")
    project = db.relationship("Project")
    task = db.relationship("Task")
    tags = db.relationship("Tag", secondary=time_entry_tags, lazy="selectin",
                           order_by=lambda: func.lower(Tag.name))

    __table_args__ = (
        # The database, not the application, guarantees one running timer per
        # user: two concurrent "start" requests cannot both insert.
        Index(
            "uq_time_entries_one_running_per_user",
            "user_id",
            unique=True,
            sqlite_where=text("ended_at IS NULL"),
            postgresql_where=text("ended_at IS NULL"),
        ),
        # A user's entries in the entry order: the latest ones (the dashboard, the timer
        # form's defaults) and a user's export read exactly the rows they return. With
        # (user_id, started_at) only, PostgreSQL preferred walking the index below
        # backwards for a frequent user, and read most of the table when that user had
        # not booked lately (migration 0010).
        Index("ix_time_entries_user_started_id", "user_id", "started_at", "id"),
        # Reports over a date range for everyone (admins): the finished entries of
        # the range, read from the index alone on PostgreSQL (an index-only scan
        # of the INCLUDE columns instead of the whole table), then summed.
        Index(
            "ix_time_entries_report",
            "started_at",
            postgresql_include=["project_id", "task_id", "user_id", "billable", "duration_seconds"],
            sqlite_where=text("ended_at IS NOT NULL"),
            postgresql_where=text("ended_at IS NOT NULL"),
        ),
        # The CSV export's order (oldest first, id breaking ties): PostgreSQL reads the
        # rows in this order through a cursor and sends the first ones at once, instead
        # of sorting every matching row before the first byte (1,000,000 rows: ~1.4 s).
        Index("ix_time_entries_started_id", "started_at", "id"),
        db.CheckConstraint(
            "ended_at IS NULL OR ended_at >= started_at", name="ends_after_start"
        ),
        db.CheckConstraint(
            "(ended_at IS NULL AND duration_seconds IS NULL) OR "
            "(ended_at IS NOT NULL AND duration_seconds IS NOT NULL AND duration_seconds >= 0)",
            name="duration_matches_end",
        ),
    )

    @property
    def is_running(self) -> bool:
        return self.ended_at is None

    def elapsed_seconds(self, now=None) -> int:
        """Seconds so far for a running entry, the stored duration otherwise."""
        if self.ended_at is not None:
            return int(self.duration_seconds or 0)
        now = now or utcnow()
        return max(0, int((now - self.started_at).total_seconds()))

    def __repr__(self) -> str:
        return f"<TimeEntry id={self.id} running={self.is_running}>"
