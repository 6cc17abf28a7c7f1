"""Clients: who the work is for."""

from __future__ import annotations

from ..extensions import db
from .types import UTCDateTime, utcnow

# What a client's, project's or task's name_key holds: the 64 hex digits of
# app.services.validation.name_key_digest, or (for a look-alike that migration 0012
# found already there) those digits followed by "#" and the row's id.
NAME_KEY_LENGTH = 80


class Client(db.Model):
    __tablename__ = "clients"

    id = db.Column(db.Integer, primary_key=True)
    name = db.Column(db.String(200), nullable=False, unique=True)
    # The name's key (case, width, invisible characters and look-alike letters folded),
    # written by the catalog service with the name. Its unique index is what refuses
    # "Αcme" (Greek Alpha) next to "Acme", also when both are created at one moment.
    name_key = db.Column(db.String(NAME_KEY_LENGTH), nullable=False, unique=True, index=True)
    default_hourly_rate = db.Column(db.Numeric(12, 2), nullable=True)
    archived = db.Column(db.Boolean, nullable=False, default=False)
    created_at = db.Column(UTCDateTime, nullable=False, default=utcnow)

    projects = db.relationship("Project", back_populates="client", lazy="select")

    def __repr__(self) -> str:
        return f"<Client id={self.id}>"
