"""A user's latest entries read through (user_id, started_at, id) on PostgreSQL, whatever
the planner thinks of the export's (started_at, id) index (migration 0010)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import event

from app.extensions import db
from app.models import TimeEntry, User
from app.services import entries, timer


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_frequent_users_latest_entries_do_not_walk_the_whole_table(ready_app, make_user,
                                                                     make_project):
    """Alice booked 1,000 of 20,000 entries (5%, the bench's heavy user's share), all
    long ago. Walking (started_at, id) backwards and filtering on her passes every later
    entry before finding hers (in the bench's data with 60,000 such entries: 730 ms);
    the timer form's defaults and the dashboard's recent entries must instead find her
    entries by user in the index (an Index Cond on user_id, not a Filter), as the real
    queries of both services are planned. (With a far larger share, PostgreSQL still
    expects her entries everywhere and may walk backwards: see migration 0010.)"""
    make_user("alice")
    make_user("bob")
    ids = make_project(task="Build")
    first = datetime(2025, 1, 1, tzinfo=timezone.utc)
    with ready_app.app_context():
        users = {u.username: u.id for u in db.session.scalars(db.select(User))}
        db.session.execute(db.insert(TimeEntry), [
            {"user_id": users["alice"] if n < 1_000 else users[("admin", "bob")[n % 2]],
             "project_id": ids["project_id"], "task_id": ids["task_id"] if n % 2 else None,
             "started_at": first + timedelta(minutes=30 * n),
             "ended_at": first + timedelta(minutes=30 * n + 20), "duration_seconds": 1200,
             "billable": True, "source": "manual"}
            for n in range(20_000)])
        db.session.commit()
        db.session.execute(db.text("ANALYZE"))
        db.session.commit()
        alice = db.session.get(User, users["alice"])

        statements = []

        def capture(conn, cursor, statement, parameters, context, executemany):
            if "FROM time_entries" in statement and "LIMIT" in statement:
                statements.append((statement, parameters))

        event.listen(db.engine, "before_cursor_execute", capture)
        try:
            assert timer.last_used(alice) == (ids["project_id"], ids["task_id"])
            assert len(entries.recent_entries(alice)) == 8
        finally:
            event.remove(db.engine, "before_cursor_execute", capture)
        assert len(statements) == 2, statements
        for statement, parameters in statements:
            connection = db.session.connection()
            plan = [line for (line,) in connection.exec_driver_sql(f"EXPLAIN {statement}",
                                                                   parameters)]
            db.session.rollback()
            text = "\n".join(plan)
            assert "ix_time_entries_user_started_id" in text, text
            assert "Filter: (time_entries.user_id" not in text and "Filter: (user_id" not in text, text
