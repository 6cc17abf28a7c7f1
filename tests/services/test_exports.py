"""The CSV export: quoting, formula neutralisation, times with offsets, visibility."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, datetime, timedelta, timezone

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


def test_export_lists_entries_oldest_first_with_ties_broken_by_id(ready_app, make_user,
                                                                   make_project, monkeypatch):
    """Entries stored out of order, some starting at the same second, a running timer and
    tagged entries, read in batches of three: the rows come out by (started_at, id), each
    with its own tags, for the admin (everyone, a date range) and for a user (their own)."""
    from app.services.tags import resolve_tags

    monkeypatch.setattr(exports, "BATCH_ROWS", 3)  # several cursor batches and tag lookups
    make_user("alice", timezone="America/New_York")
    ids = make_project(task="Build")
    base = datetime(2026, 11, 10, 12, tzinfo=timezone.utc)
    hours = [5, 0, 5, 3, 0, 48, 5, -30, 3, 0, 72]  # ties at +0, +3 and +5 hours
    with ready_app.app_context():
        users = {u.username: u.id for u in db.session.scalars(db.select(User))}
        red, blue = resolve_tags(["red", "Blue"])
        entries = []
        for n, offset in enumerate(hours):
            start = base + timedelta(hours=offset)
            running = n == 6
            entry = TimeEntry(
                user_id=users["alice" if n % 3 else "admin"], project_id=ids["project_id"],
                task_id=ids["task_id"] if n % 2 else None, started_at=start,
                ended_at=None if running else start + timedelta(minutes=10 + n),
                duration_seconds=None if running else 600 + 60 * n, notes=f"entry {n}",
                source="timer" if running else "manual")
            entry.tags = [[], [red], [red, blue]][n % 3]
            db.session.add(entry)
            entries.append(entry)
        db.session.commit()
        expected = [(e.started_at, e.id, e.user_id, e.notes, "; ".join(sorted(
            (t.name for t in e.tags), key=str.lower))) for e in entries]
    expected.sort()
    names = {v: k for k, v in users.items()}

    def wanted(rows):
        return [[str(entry_id), names[user_id], notes, tags]
                for _started, entry_id, user_id, notes, tags in rows]

    def got(rows):
        body = [dict(zip(rows[0], row)) for row in rows[1:]]
        return [[r["entry_id"], r["user"], r["notes"], r["tags"]] for r in body]

    assert got(_export(ready_app, "admin")) == wanted(expected)
    assert got(_export(ready_app, "alice")) == wanted(
        [row for row in expected if names[row[2]] == "alice"])
    # Nov 10 to Nov 12 in Berlin (the admin's zone in this fixture is UTC: the days are UTC's).
    in_range = ReportFilters(start=date(2026, 11, 10), end=date(2026, 11, 12))
    assert got(_export(ready_app, "admin", in_range)) == wanted(
        [row for row in expected if date(2026, 11, 10) <= row[0].date() <= date(2026, 11, 12)])


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_postgresql_reads_the_export_in_index_order_without_sorting(ready_app, make_user,
                                                                    make_project):
    """The export's plan (everyone's, a date range, one user's) has no Sort step: the
    cursor reads the rows from the (started_at, id) index in order, so the first byte
    does not wait for every row to be read and sorted. 20,000 entries and fresh
    statistics, so the planner weighs a real table rather than a handful of rows.
    (PostgreSQL only: SQLite's planner may start from projects and sort; the order is
    the same, tested above, and the target is about PostgreSQL at scale.)"""
    make_user("alice")
    ids = make_project(task="Build")
    first = datetime(2026, 1, 1, tzinfo=timezone.utc)
    with ready_app.app_context():
        users = [u.id for u in db.session.scalars(db.select(User).order_by(User.id))]
        db.session.execute(db.insert(TimeEntry), [
            {"user_id": users[n % 2], "project_id": ids["project_id"],
             "task_id": ids["task_id"] if n % 2 else None,
             "started_at": first + timedelta(minutes=23 * n),
             "ended_at": first + timedelta(minutes=23 * n + 20), "duration_seconds": 1200,
             "notes": f"n{n}", "billable": True, "source": "manual"}
            for n in range(20_000)])
        db.session.commit()
        db.session.execute(db.text("ANALYZE"))
        db.session.commit()
        admin, alice = (db.session.get(User, user_id) for user_id in users)
        cases = {
            "everyone": (admin, ReportFilters()),
            "a month": (admin, ReportFilters(start=date(2026, 3, 1), end=date(2026, 3, 31))),
            "one user": (alice, ReportFilters()),
        }
        for name, (viewer, filters) in cases.items():
            sql = exports.export_query(viewer, filters).compile(
                dialect=db.engine.dialect, compile_kwargs={"literal_binds": True})
            # As the export runs it: through a cursor, which PostgreSQL plans for a fast start.
            plan = [line for (line,) in db.session.execute(
                db.text(f"EXPLAIN DECLARE export_plan CURSOR FOR {sql}"))]
            db.session.rollback()
            sorts = [line for line in plan if re.match(r"\s*(->\s*)?Sort\b", line)]
            assert not sorts, f"{name}: the export sorts its rows first:\n" + "\n".join(plan)
