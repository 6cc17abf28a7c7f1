"""The local outbox: the last payloads actually sent, for the admin page.

Rows are written by the exporter thread after the sink accepted a batch, so the
page shows what left the machine, not what was meant to. Of each batch only the
newest ``OUTBOX_ROWS_PER_BATCH`` are stored (the page shows 50): storing every
payload cost more CPU per event than sending it (bench/track_event_cost.py).
Retention: rows older than ``TELEMETRY_OUTBOX_RETENTION_DAYS`` and all but the
newest ``OUTBOX_MAX_ROWS`` are deleted on every write.
"""

from __future__ import annotations

import json
from datetime import timedelta

from flask import Flask
from sqlalchemy import delete, insert, select

from ..extensions import db
from ..models.types import UTCDateTime, utcnow

OUTBOX_MAX_ROWS = 500
OUTBOX_ROWS_PER_BATCH = 50


class TelemetryOutbox(db.Model):
    __tablename__ = "telemetry_outbox"

    id = db.Column(db.Integer, primary_key=True)
    event_name = db.Column(db.String(64), nullable=False)
    layer = db.Column(db.String(16), nullable=False)
    payload = db.Column(db.Text, nullable=False)
    sent_at = db.Column(UTCDateTime, nullable=False, default=utcnow, index=True)


def record_sent(app: Flask, payloads: list[dict]) -> None:
    """Store the newest sent payloads of a batch and apply retention (in the exporter thread)."""
    with app.app_context():
        try:
            now = utcnow()
            db.session.execute(insert(TelemetryOutbox), [
                {"event_name": payload["event"][:64], "layer": payload["layer"][:16],
                 "payload": json.dumps(payload, sort_keys=True), "sent_at": now}
                for payload in payloads[-OUTBOX_ROWS_PER_BATCH:]
            ])
            days = app.config.get("TELEMETRY_OUTBOX_RETENTION_DAYS", 30)
            db.session.execute(delete(TelemetryOutbox).where(
                TelemetryOutbox.sent_at < now - timedelta(days=days)))
            cutoff = db.session.scalar(
                select(TelemetryOutbox.id).order_by(TelemetryOutbox.id.desc())
                .offset(OUTBOX_MAX_ROWS).limit(1))
            if cutoff is not None:
                db.session.execute(delete(TelemetryOutbox).where(TelemetryOutbox.id <= cutoff))
            db.session.commit()
        except Exception:
            db.session.rollback()
            raise
        finally:
            db.session.remove()


def recent(limit: int = 50) -> list[dict]:
    """The newest ``limit`` sent payloads, newest first."""
    rows = db.session.scalars(
        select(TelemetryOutbox).order_by(TelemetryOutbox.id.desc()).limit(limit)).all()
    return [{"sent_at": row.sent_at, "event": row.event_name, "layer": row.layer,
             "payload": json.loads(row.payload)} for row in rows]
