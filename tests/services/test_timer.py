"""The timer: one running entry per user, even under concurrent requests."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import TimeEntry, User
from app.services import timer
from app.services.errors import NotFound, ValidationError


@pytest.fixture
def alice(ready_app, make_user):
    return make_user("alice")


def _user(user_id):
    return db.session.get(User, user_id)


def test_start_and_stop_records_one_finished_entry(ready_app, alice, make_project):
    ids = make_project(task="Design")
    with ready_app.app_context():
        entry = timer.start_timer(_user(alice), project_id=ids["project_id"],
                                  task_id=ids["task_id"], notes="  homepage  ")
        assert entry.is_running and entry.notes == "homepage" and entry.source == "timer"
        # Pretend it ran for 90 minutes.
        entry.started_at -= timedelta(minutes=90)
        db.session.commit()
        stopped = timer.stop_timer(_user(alice))
        assert stopped.id == entry.id and not stopped.is_running
        assert 90 * 60 <= stopped.duration_seconds <= 90 * 60 + 5
        assert timer.running_entry(_user(alice)) is None


def test_starting_while_running_is_refused_and_keeps_the_first(ready_app, alice, make_project):
    ids = make_project()
    with ready_app.app_context():
        first = timer.start_timer(_user(alice), project_id=ids["project_id"])
        with pytest.raises(timer.TimerAlreadyRunning, match="already running"):
            timer.start_timer(_user(alice), project_id=ids["project_id"])
        assert db.session.scalar(select(func.count(TimeEntry.id))) == 1
        assert timer.running_entry(_user(alice)).id == first.id


def test_stopping_with_nothing_running_is_a_clear_error(ready_app, alice):
    with ready_app.app_context(), pytest.raises(timer.NoTimerRunning):
        timer.stop_timer(_user(alice))


@pytest.mark.parametrize("bad", [999, "abc", None, -1])
def test_unknown_project_is_refused_and_nothing_written(ready_app, alice, bad):
    with ready_app.app_context():
        with pytest.raises((NotFound, ValidationError)):
            timer.start_timer(_user(alice), project_id=bad)
        assert db.session.scalar(select(func.count(TimeEntry.id))) == 0


def test_task_from_another_project_is_refused(ready_app, alice, make_project):
    a = make_project(name="A", client_name="C1", task="Ta")
    b = make_project(name="B", client_name="C2", task="Tb")
    with ready_app.app_context():
        with pytest.raises(ValidationError, match="another project"):
            timer.start_timer(_user(alice), project_id=a["project_id"], task_id=b["task_id"])
        assert db.session.scalar(select(func.count(TimeEntry.id))) == 0


def test_users_each_have_their_own_timer(ready_app, alice, make_user, make_project):
    bob = make_user("bob")
    ids = make_project()
    with ready_app.app_context():
        timer.start_timer(_user(alice), project_id=ids["project_id"])
        timer.start_timer(_user(bob), project_id=ids["project_id"])
        assert db.session.scalar(select(func.count(TimeEntry.id))) == 2


def _race(app, action, n=2):
    """Run ``action`` in ``n`` threads released at the same instant; collect outcomes."""
    barrier = threading.Barrier(n)
    outcomes = []
    lock = threading.Lock()

    def worker():
        with app.app_context():
            barrier.wait()
            try:
                result = action()
            except Exception as exc:  # the outcome is what we assert on
                result = exc
            finally:
                db.session.remove()
            with lock:
                outcomes.append(result)

    threads = [threading.Thread(target=worker) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return outcomes


@pytest.mark.parametrize("round_", range(5))
def test_concurrent_starts_leave_exactly_one_running_entry(ready_app, alice, make_project, round_):
    ids = make_project(name=f"P{round_}")

    def start():
        return timer.start_timer(_user(alice), project_id=ids["project_id"]).id

    outcomes = _race(ready_app, start)
    started = [o for o in outcomes if isinstance(o, int)]
    refused = [o for o in outcomes if isinstance(o, timer.TimerAlreadyRunning)]
    assert len(started) == 1 and len(refused) == 1, outcomes
    with ready_app.app_context():
        rows = db.session.scalars(select(TimeEntry)).all()
        assert [r.id for r in rows] == started and rows[0].ended_at is None


@pytest.mark.parametrize("round_", range(5))
def test_concurrent_stops_finish_the_entry_once(ready_app, alice, make_project, round_):
    ids = make_project(name=f"P{round_}")
    with ready_app.app_context():
        entry_id = timer.start_timer(_user(alice), project_id=ids["project_id"]).id

    def stop():
        return timer.stop_timer(_user(alice)).duration_seconds

    outcomes = _race(ready_app, stop)
    stopped = [o for o in outcomes if isinstance(o, int)]
    nothing = [o for o in outcomes if isinstance(o, timer.NoTimerRunning)]
    assert len(stopped) == 1 and len(nothing) == 1, outcomes
    with ready_app.app_context():
        rows = db.session.scalars(select(TimeEntry)).all()
        assert len(rows) == 1 and rows[0].id == entry_id
        assert rows[0].ended_at is not None and rows[0].duration_seconds == stopped[0]


def test_restart_copies_project_task_and_notes(ready_app, alice, make_project):
    ids = make_project(task="Build")
    with ready_app.app_context():
        first = timer.start_timer(_user(alice), project_id=ids["project_id"],
                                  task_id=ids["task_id"], notes="sprint 4")
        timer.stop_timer(_user(alice))
        again = timer.restart_entry(_user(alice), first.id)
        assert (again.project_id, again.task_id, again.notes) == (
            ids["project_id"], ids["task_id"], "sprint 4",
        )
        assert again.id != first.id and again.is_running
