"""Tags: free labels on time entries, shared by everyone, created inline."""

from __future__ import annotations

from ..extensions import db
from .types import UTCDateTime, utcnow

# A key can be longer than its name (NFKC writes "ﷺ" as 18 letters, TR39 "m" as "rn");
# the service refuses a tag whose key does not fit.
NAME_KEY_LENGTH = 200

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
    name = db.Column(db.String(50), nullable=False, unique=True)
    # The name's key (app.services.validation.name_key: case, width, invisible characters
    # and look-alike letters folded). Its unique index is what makes "Urgent", "URGENT"
    # and "Ｕrgent" one tag, also when two requests create them at the same moment.
    name_key = db.Column(db.String(NAME_KEY_LENGTH), nullable=False, unique=True, index=True)
    created_at = db.Column(UTCDateTime, nullable=False, default=utcnow)

    def __repr__(self) -> str:
        return f"<Tag id={self.id}>"
