"""The CSV export: quoting, formula neutralisation, times with offsets, visibility."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timezone

import pytest

from app.extensions import db
from app.models import TimeEntry, User
from app.services import exports
from app.services.reports import ReportFilters


@pytest.mark.parametrize(
    "cell, expected",
    [
        ("=1+2", "'=1+2"), ("+SUM(A1)", "'+SUM(A1)"), ("-2+3", "'-2+3"), ("@cmd", "'@cmd"),
        ("\tx", "'\tx"), ("\rx", "'\rx"), ("a=b", "a=b"), ("", ""), ("plain", "plain"),
    ],
)
def test_cells_a_spreadsheet_would_evaluate_are_neutralised(cell, expected):
    assert exports.neutralise(cell) == expected


def _export(app, username, filters=ReportFilters()) -> list[list[str]]:
    with app.app_context():
        viewer = db.session.scalar(db.select(User).where(User.username == username))
        text = "".join(exports.csv_chunks(viewer, filters, rows_per_chunk=2))
    return list(csv.reader(io.StringIO(text, newline="")))


def test_export_quotes_and_neutralises_every_text_column(ready_app, make_user, make_project):
    make_user("alice", timezone="America/New_York")
    ids = make_project("=Evil project", "+Evil client", task="@task")
    awkward = ['say "hi", then\nleave', "=cmd|' /C calc'!A0", "-10", "line\r\nbreak", "ünï"]
    with ready_app.app_context():
        alice = db.session.scalar(db.select(User).where(User.username == "alice"))
        for n, notes in enumerate(awkward):
            start = datetime(2026, 11, 10 + n, 14, 0, tzinfo=timezone.utc)
            db.session.add(TimeEntry(
                user_id=alice.id, project_id=ids["project_id"], task_id=ids["task_id"],
                started_at=start, ended_at=start.replace(hour=15, minute=30),
                duration_seconds=5400, notes=notes, billable=n % 2 == 0, source="manual"))
        db.session.add(TimeEntry(user_id=alice.id, project_id=ids["project_id"],
                                 started_at=datetime(2026, 11, 20, 9, tzinfo=timezone.utc),
                                 source="timer"))  # running
        db.session.commit()
    rows = _export(ready_app, "alice")
    assert tuple(rows[0]) == exports.HEADER
    body = [dict(zip(rows[0], row)) for row in rows[1:]]
    assert len(body) == 6
    assert [r["notes"] for r in body[:5]] == [
        'say "hi", then\nleave', "'=cmd|' /C calc'!A0", "'-10", "line\r\nbreak", "ünï"]
    first = body[0]
    assert (first["project"], first["client"], first["task"]) == (
        "'=Evil project", "'+Evil client", "'@task")
    assert first["started_at"] == "2026-11-10T09:00:00-05:00"  # alice's zone, with offset
    assert first["ended_at"] == "2026-11-10T10:30:00-05:00"
    assert (first["duration_seconds"], first["duration_hours"]) == ("5400", "1.5000")
    assert [r["billable"] for r in body[:2]] == ["yes", "no"]
    running = body[5]
    assert running["ended_at"] == "" and running["duration_seconds"] == ""


def test_export_shows_users_only_their_own_entries(ready_app, make_user, make_project):
    make_user("alice")
    ids = make_project()
    with ready_app.app_context():
        for user in db.session.scalars(db.select(User)):
            start = datetime(2026, 11, 10, 9, tzinfo=timezone.utc)
            db.session.add(TimeEntry(user_id=user.id, project_id=ids["project_id"],
                                     started_at=start, ended_at=start.replace(hour=10),
                                     duration_seconds=3600, source="manual"))
        db.session.commit()
    assert [r[1] for r in _export(ready_app, "alice")[1:]] == ["alice"]
    assert sorted(r[1] for r in _export(ready_app, "admin")[1:]) == ["admin", "alice"]
