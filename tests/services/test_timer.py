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


def test_switching_stops_the_running_timer_and_starts_the_new_one_at_the_same_instant(
        ready_app, alice, make_project):
    a = make_project(name="A", client_name="C1")
    b = make_project(name="B", client_name="C2", task="Review")
    with ready_app.app_context():
        first = timer.start_timer(_user(alice), project_id=a["project_id"], notes="a")
        first.started_at -= timedelta(minutes=20)
        db.session.commit()
        first_id = first.id
        second = timer.start_timer(_user(alice), project_id=b["project_id"],
                                   task_id=b["task_id"], notes="b", switch=True)
        db.session.expire_all()
        old = db.session.get(TimeEntry, first_id)
        assert not old.is_running and 20 * 60 <= old.duration_seconds <= 20 * 60 + 5
        assert second.is_running and second.started_at == old.ended_at  # no gap, no overlap
        assert timer.running_entry(_user(alice)).id == second.id
        assert db.session.scalar(select(func.count(TimeEntry.id))) == 2


def test_a_switch_that_fails_leaves_the_running_timer_running(ready_app, alice, make_project):
    a = make_project(name="A", client_name="C1")
    with ready_app.app_context():
        first = timer.start_timer(_user(alice), project_id=a["project_id"])
        with pytest.raises((NotFound, ValidationError)):
            timer.start_timer(_user(alice), project_id=4242, switch=True)
        db.session.expire_all()
        assert timer.running_entry(_user(alice)).id == first.id


def test_switching_with_nothing_running_simply_starts(ready_app, alice, make_project):
    ids = make_project()
    with ready_app.app_context():
        entry = timer.start_timer(_user(alice), project_id=ids["project_id"], switch=True)
        assert entry.is_running


@pytest.mark.parametrize("round_", range(3))
def test_concurrent_switches_finish_the_old_entry_once_and_leave_one_running(
        ready_app, alice, make_project, round_):
    a = make_project(name=f"A{round_}", client_name=f"C{round_}")
    b = make_project(name=f"B{round_}", client_name=f"D{round_}")
    with ready_app.app_context():
        old_id = timer.start_timer(_user(alice), project_id=a["project_id"]).id

    def switch():
        return timer.start_timer(_user(alice), project_id=b["project_id"], switch=True).id

    outcomes = _race(ready_app, switch)
    started = [o for o in outcomes if isinstance(o, int)]
    refused = [o for o in outcomes if isinstance(o, timer.TimerAlreadyRunning)]
    # Either the two overlapped (one wins, the other's insert hits the unique index) or
    # one ran after the other (the second switched away from the first's new timer).
    assert len(started) + len(refused) == 2 and started, outcomes
    with ready_app.app_context():
        rows = db.session.scalars(select(TimeEntry).order_by(TimeEntry.id)).all()
        assert [r.id for r in rows] == [old_id, *sorted(started)]
        running = [r for r in rows if r.ended_at is None]
        assert len(running) == 1 and running[0].id == max(started)
        # A chain without gaps or overlaps: each entry ends when the next one starts.
        for earlier, later in zip(rows, rows[1:]):
            assert earlier.ended_at == later.started_at


def test_the_running_timer_can_be_corrected_and_keeps_running(ready_app, alice, make_project):
    from datetime import datetime, timezone

    a = make_project(name="A", client_name="C1")
    b = make_project(name="B", client_name="C2", task="Review")
    with ready_app.app_context():
        timer.start_timer(_user(alice), project_id=a["project_id"], notes="typo")
        earlier = datetime.now(timezone.utc).replace(tzinfo=None, second=0, microsecond=0) \
            - timedelta(minutes=45)
        entry = timer.update_running(_user(alice), project_id=b["project_id"],
                                     task_id=b["task_id"], notes="fixed", started_at=earlier)
        assert entry.is_running and (entry.project_id, entry.task_id, entry.notes) == (
            b["project_id"], b["task_id"], "fixed")
        assert entry.started_at == earlier.replace(tzinfo=timezone.utc)  # alice is on UTC
        with pytest.raises(ValidationError, match="future"):
            timer.update_running(_user(alice), project_id=b["project_id"],
                                 started_at=earlier + timedelta(hours=2))


def test_correcting_with_no_timer_running_is_a_clear_error(ready_app, alice, make_project):
    from datetime import datetime

    ids = make_project()
    with ready_app.app_context(), pytest.raises(timer.NoTimerRunning):
        timer.update_running(_user(alice), project_id=ids["project_id"],
                             started_at=datetime(2026, 1, 1, 9))


def test_last_used_is_the_latest_entry_on_a_bookable_project(ready_app, alice, make_project):
    from app.services import catalog

    a = make_project(name="A", client_name="C1", task="Ta")
    b = make_project(name="B", client_name="C2")
    with ready_app.app_context():
        assert timer.last_used(_user(alice)) == (None, None)
        timer.start_timer(_user(alice), project_id=a["project_id"], task_id=a["task_id"])
        assert timer.last_used(_user(alice)) == (a["project_id"], a["task_id"])
        timer.start_timer(_user(alice), project_id=b["project_id"], switch=True)
        assert timer.last_used(_user(alice)) == (b["project_id"], None)
        timer.stop_timer(_user(alice))
        catalog.update_project(b["project_id"], name="B", client_id=b["client_id"], archived=True)
        assert timer.last_used(_user(alice)) == (a["project_id"], a["task_id"])
