"""Tags: free labels on time entries, shared by everyone, created inline."""

from __future__ import annotations

from ..extensions import db
from .types import UTCDateTime, utcnow

# The association table: an entry has many tags, a tag many entries.
time_entry_tags = db.Table(
    "time_entry_tags",
    db.Column("entry_id", db.Integer, db.ForeignKey("time_entries.id", ondelete="CASCADE"),
              primary_key=True),
    db.Column("tag_id", db.Integer, db.ForeignKey("tags.id", ondelete="CASCADE"),
              primary_key=True, index=True),
)


class Tag(db.Model):
    __tablename__ = "tags"

    id = db.Column(db.Integer, primary_key=True)
    # Unique as typed; the service also refuses a second tag that differs only in case.
    name = db.Column(db.String(50), nullable=False, unique=True)
    created_at = db.Column(UTCDateTime, nullable=False, default=utcnow)

    def __repr__(self) -> str:
        return f"<Tag id={self.id}>"
