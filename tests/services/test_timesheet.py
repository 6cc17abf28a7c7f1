"""The week timesheet: totals per cell, row, day and week; saving writes ordinary entries."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import TimeEntry, User
from app.services import entries, timesheet
from app.services.errors import ValidationError
from app.services.timesheet import CellChange

UTC = timezone.utc
MONDAY = date(2026, 3, 23)  # the week of the spring DST change in Berlin (Sunday the 29th)


@pytest.fixture
def berliner(ready_app, make_user):
    return make_user("berliner", timezone="Europe/Berlin")


def _user(user_id):
    return db.session.get(User, user_id)


def _entries():
    return db.session.scalars(select(TimeEntry).order_by(TimeEntry.started_at)).all()


def test_weeks_are_iso_weeks_and_bad_ones_are_refused(ready_app, berliner):
    with ready_app.app_context():
        assert timesheet.parse_week("2026-W13", _user(berliner)) == MONDAY
        assert timesheet.week_label(MONDAY) == "2026-W13"
        assert timesheet.parse_week("", _user(berliner),
                                    now=datetime(2026, 3, 25, 12, tzinfo=UTC)) == MONDAY
        for bad in ("2026-13", "2026-W54", "W13", "1900-W01"):
            with pytest.raises(ValidationError):
                timesheet.parse_week(bad, _user(berliner))


def test_the_grid_sums_entries_by_row_and_local_day(ready_app, berliner, make_project):
    a = make_project("Alpha", "C1", task="Design")
    b = make_project("Beta", "C2")
    with ready_app.app_context():
        user = _user(berliner)
        book = lambda ids, task, start, minutes: entries.create_entry(  # noqa: E731
            user, project_id=ids["project_id"], task_id=task, started_at=start,
            ended_at=start + timedelta(minutes=minutes))
        book(a, a["task_id"], datetime(2026, 3, 23, 9), 90)     # Monday
        book(a, a["task_id"], datetime(2026, 3, 23, 14), 30)    # Monday again
        book(b, None, datetime(2026, 3, 29, 0, 30), 60)         # Sunday 00:30 Berlin
        book(b, None, datetime(2026, 3, 30, 0, 30), 60)         # next week: not in the grid
        grid = timesheet.week_grid(user, MONDAY)
        assert [(r.project.name, r.task.name if r.task else None) for r in grid.rows] == [
            ("Alpha", "Design"), ("Beta", None)]
        assert grid.rows[0].seconds == [7200, 0, 0, 0, 0, 0, 0]
        assert grid.rows[1].seconds == [0, 0, 0, 0, 0, 0, 3600]
        assert grid.day_totals == [7200, 0, 0, 0, 0, 0, 3600]
        assert grid.total == 10800


def test_saving_raises_lowers_and_empties_cells_as_ordinary_entries(
        ready_app, berliner, make_project):
    a = make_project("Alpha", "C1")
    with ready_app.app_context():
        user = _user(berliner)
        entries.create_entry(user, project_id=a["project_id"], started_at=datetime(2026, 3, 23, 9),
                             ended_at=datetime(2026, 3, 23, 10))
        entries.create_entry(user, project_id=a["project_id"], started_at=datetime(2026, 3, 24, 9),
                             ended_at=datetime(2026, 3, 24, 11))
        entries.create_entry(user, project_id=a["project_id"], started_at=datetime(2026, 3, 25, 9),
                             ended_at=datetime(2026, 3, 25, 10))
        changed = timesheet.save_week(user, MONDAY, [
            CellChange(a["project_id"], None, 0, "2:30", 3600),   # Monday 1:00 → 2:30
            CellChange(a["project_id"], None, 1, "1.5", 7200),    # Tuesday 2:00 → 1:30
            CellChange(a["project_id"], None, 2, "", 3600),       # Wednesday emptied
            CellChange(a["project_id"], None, 3, "45m", 0),       # Thursday new
            CellChange(a["project_id"], None, 4, "", 0),          # unchanged
        ])
        assert changed == 4
        grid = timesheet.week_grid(user, MONDAY)
        assert grid.rows[0].seconds == [9000, 5400, 0, 2700, 0, 0, 0]
        rows = _entries()
        # Monday: the original 09:00-10:00 and an added 1:30 right after it, 10:00-11:30 Berlin.
        monday = [e for e in rows if e.started_at.date() == date(2026, 3, 23)]
        assert [(e.started_at.hour, e.duration_seconds) for e in monday] == [(8, 3600), (9, 5400)]
        assert all(e.source == "manual" for e in rows)
        # Thursday's entry starts at 09:00 Berlin (08:00 UTC).
        thursday = [e for e in rows if e.started_at.date() == date(2026, 3, 26)]
        assert thursday[0].started_at == datetime(2026, 3, 26, 8, tzinfo=UTC)


def test_a_bad_cell_or_a_stale_cell_saves_nothing(ready_app, berliner, make_project):
    a = make_project("Alpha", "C1")
    with ready_app.app_context():
        user = _user(berliner)
        entries.create_entry(user, project_id=a["project_id"], started_at=datetime(2026, 3, 23, 9),
                             ended_at=datetime(2026, 3, 23, 10))
        with pytest.raises(timesheet.CellErrors) as exc:
            timesheet.save_week(user, MONDAY, [
                CellChange(a["project_id"], None, 1, "2:00", 0),      # fine on its own
                CellChange(a["project_id"], None, 2, "lots", 0),      # unreadable
                CellChange(a["project_id"], None, 0, "3:00", 1800),   # page showed 0:30: stale
            ])
        errors = exc.value.errors
        assert set(errors) == {((a["project_id"], None), 2), ((a["project_id"], None), 0)}
        assert "1:30, 1.5, 90m or 1h30" in errors[((a["project_id"], None), 2)]
        assert "Changed elsewhere" in errors[((a["project_id"], None), 0)]
        assert db.session.scalar(select(func.count(TimeEntry.id))) == 1


def test_copying_last_weeks_rows_brings_rows_not_time(ready_app, berliner, make_project):
    a = make_project("Alpha", "C1", task="Design")
    with ready_app.app_context():
        user = _user(berliner)
        entries.create_entry(user, project_id=a["project_id"], task_id=a["task_id"],
                             started_at=datetime(2026, 3, 17, 9), ended_at=datetime(2026, 3, 17, 12))
        grid = timesheet.week_grid(user, MONDAY, copy_previous=True)
        assert [(r.key, r.total) for r in grid.rows] == [((a["project_id"], a["task_id"]), 0)]
        assert timesheet.week_grid(user, MONDAY).rows == []


# -- one date-range rule: weeks an entry may lie in, and time done, not planned ----------

WEDNESDAY_1030 = datetime(2026, 3, 25, 9, 30, tzinfo=UTC)  # 10:30 in Berlin (UTC+1)


def test_weeks_beyond_what_an_entry_may_end_in_are_refused(ready_app, berliner):
    """The API refuses an end more than 366 days ahead; the timesheet opens no week past it."""
    now = datetime(2026, 12, 3, 12, tzinfo=UTC)  # the last bookable day: Friday 2027-12-03
    with ready_app.app_context():
        user = _user(berliner)
        assert timesheet.parse_week("2027-W48", user, now=now) == date(2027, 11, 29)
        assert timesheet.parse_week("1970-W02", user, now=now) == date(1970, 1, 5)
        for bad in ("2027-W49", "2999-W52", "1970-W01"):
            with pytest.raises(ValidationError) as exc:
                timesheet.parse_week(bad, user, now=now)
            assert exc.value.message == ("That week is out of range: weeks 1970-W02 to 2027-W48 "
                                         "can hold time.")


def test_a_cell_of_a_day_still_to_come_is_refused(ready_app, berliner, make_project):
    a = make_project("Alpha", "C1")
    with ready_app.app_context():
        user = _user(berliner)
        with pytest.raises(timesheet.CellErrors) as exc:
            timesheet.save_week(user, MONDAY, [
                CellChange(a["project_id"], None, 1, "1:00", 0, shown=""),   # Tuesday: fine
                CellChange(a["project_id"], None, 3, "1:00", 0, shown=""),   # Thursday: to come
            ], now=WEDNESDAY_1030)
        assert exc.value.errors == {((a["project_id"], None), 3): timesheet.FUTURE_DAY}
        assert db.session.scalar(select(func.count(TimeEntry.id))) == 0


def test_time_added_today_ends_by_now(ready_app, berliner, make_project):
    a = make_project("Alpha", "C1")
    cell = lambda typed, was, shown: CellChange(a["project_id"], None, 2, typed, was,  # noqa: E731
                                                shown=shown)
    with ready_app.app_context():
        user = _user(berliner)
        # 1:00 fits from 09:00 to 10:00.
        assert timesheet.save_week(user, MONDAY, [cell("1:00", 0, "")], now=WEDNESDAY_1030) == 1
        # 0:45 more would run 10:00-10:45, past now: it moves to end at now.
        assert timesheet.save_week(user, MONDAY, [cell("1:45", 3600, "1:00")],
                                   now=WEDNESDAY_1030) == 1
        assert [(e.started_at, e.ended_at) for e in _entries()][-1] == (
            WEDNESDAY_1030 - timedelta(minutes=45), WEDNESDAY_1030)
        # 13:00 adds 11:15, more than the 10:30 today has had: refused, nothing written.
        with pytest.raises(timesheet.CellErrors) as exc:
            timesheet.save_week(user, MONDAY, [cell("13:00", 6300, "1:45")], now=WEDNESDAY_1030)
        assert exc.value.errors == {((a["project_id"], None), 2): (
            "That would end after now (10:30): enter at most the time today has had so far.")}
        assert [e.duration_seconds for e in _entries()] == [3600, 2700]
        assert all(e.ended_at <= WEDNESDAY_1030 for e in _entries())


def test_a_cell_of_a_day_to_come_can_still_be_lowered(ready_app, berliner, make_project):
    """Planned time booked through the forms or the API can be taken off in the grid."""
    a = make_project("Alpha", "C1")
    with ready_app.app_context():
        user = _user(berliner)
        entries.create_entry(user, project_id=a["project_id"], started_at=datetime(2026, 3, 27, 9),
                             ended_at=datetime(2026, 3, 27, 11))  # Friday, two days ahead
        assert timesheet.save_week(user, MONDAY, [
            CellChange(a["project_id"], None, 4, "0:30", 7200, shown="2:00")],
            now=WEDNESDAY_1030) == 1
        assert [e.duration_seconds for e in _entries()] == [1800]


def test_an_untouched_cell_is_skipped_even_when_it_changed_elsewhere(
        ready_app, berliner, make_project):
    """A cell the user did not type in is not theirs to check: only typed cells are
    compared with what is stored."""
    a = make_project("Alpha", "C1")
    with ready_app.app_context():
        user = _user(berliner)
        entries.create_entry(user, project_id=a["project_id"], started_at=datetime(2026, 3, 23, 9),
                             ended_at=datetime(2026, 3, 23, 10))
        assert timesheet.save_week(user, MONDAY, [
            CellChange(a["project_id"], None, 0, "0:30", 1800, shown="0:30"),  # stale, untouched
            CellChange(a["project_id"], None, 1, "1:00", 0, shown=""),
        ]) == 1
        assert [e.duration_seconds for e in _entries()] == [3600, 3600]
