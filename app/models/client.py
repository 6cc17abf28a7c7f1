"""Clients: who the work is for."""

from __future__ import annotations

from ..extensions import db
from .types import UTCDateTime, utcnow


class Client(db.Model):
    __tablename__ = "clients"

    id = db.Column(db.Integer, primary_key=True)
    name = db.Column(db.String(200), nullable=False, unique=True)
    default_hourly_rate = db.Column(db.Numeric(12, 2), nullable=True)
    archived = db.Column(db.Boolean, nullable=False, default=False)
    created_at = db.Column(UTCDateTime, nullable=False, default=utcnow)

    projects = db.relationship("Project", back_populates="client", lazy="select")

    def __repr__(self) -> str:
        return f"<Client id={self.id}>"
