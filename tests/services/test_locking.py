"""lock_rows: a check-then-write under the lock holds against simultaneous requests."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import TimeEntry, User
from app.models.types import utcnow
from app.services.locking import lock_rows
from tests.support.parallel import race

THREADS = 4


def _book_if_none(user_id: int, project_id: int, locked: bool):
    """Book one entry unless the user has one: the rule a lock must make hold."""
    if locked:
        lock_rows(User, User.id == user_id)
    if db.session.scalar(select(func.count(TimeEntry.id)).where(TimeEntry.user_id == user_id)):
        db.session.rollback()
        return False
    start = utcnow() - timedelta(hours=1)
    db.session.add(TimeEntry(user_id=user_id, project_id=project_id, started_at=start,
                             ended_at=start + timedelta(minutes=5), duration_seconds=300))
    db.session.commit()
    return True


def _race(app, user_id, project_id, locked):
    def attempt():
        with app.app_context():
            try:
                return _book_if_none(user_id, project_id, locked)
            finally:
                db.session.remove()

    return race([attempt] * THREADS)


@pytest.mark.parametrize("round_", range(5))
def test_a_rule_checked_under_the_lock_holds_for_simultaneous_writers(
        ready_app, make_user, make_project, round_):
    user_id = make_user("alice")
    project_id = make_project(name=f"P{round_}")["project_id"]
    booked = _race(ready_app, user_id, project_id, locked=True)
    assert sorted(booked) == [False] * (THREADS - 1) + [True]
    with ready_app.app_context():
        assert db.session.scalar(select(func.count(TimeEntry.id))) == 1


def test_the_lock_returns_the_rows_it_holds_and_changes_nothing(ready_app, make_user):
    ids = [make_user("alice"), make_user("bob")]
    with ready_app.app_context():
        before = {u.id: (u.username, u.updated_at if hasattr(u, "updated_at") else None)
                  for u in db.session.scalars(select(User))}
        assert lock_rows(User, User.id.in_(ids)) == sorted(ids)
        db.session.commit()
        db.session.expire_all()
        after = {u.id: (u.username, u.updated_at if hasattr(u, "updated_at") else None)
                 for u in db.session.scalars(select(User))}
    assert after == before
