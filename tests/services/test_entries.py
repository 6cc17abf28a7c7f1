"""Manual entries: validation, time zones, ownership, totals."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import TimeEntry, User
from app.services import entries
from app.services.errors import NotFound, ValidationError

UTC = timezone.utc


@pytest.fixture
def berliner(ready_app, make_user):
    return make_user("berliner", timezone="Europe/Berlin")


def _user(user_id):
    return db.session.get(User, user_id)


def _count():
    return db.session.scalar(select(func.count(TimeEntry.id)))


def test_naive_times_are_read_in_the_users_zone_and_stored_in_utc(ready_app, berliner, make_project):
    ids = make_project()
    with ready_app.app_context():
        entry = entries.create_entry(
            _user(berliner), project_id=ids["project_id"],
            started_at=datetime(2026, 1, 15, 9, 0), ended_at=datetime(2026, 1, 15, 12, 30),
        )
        db.session.expire_all()
        stored = db.session.get(TimeEntry, entry.id)
        assert stored.started_at == datetime(2026, 1, 15, 8, 0, tzinfo=UTC)  # CET = UTC+1
        assert stored.duration_seconds == 3.5 * 3600


def test_summer_time_is_respected(ready_app, berliner, make_project):
    ids = make_project()
    with ready_app.app_context():
        entry = entries.create_entry(
            _user(berliner), project_id=ids["project_id"],
            started_at=datetime(2026, 7, 1, 9, 0), ended_at=datetime(2026, 7, 1, 10, 0),
        )
        assert entry.started_at == datetime(2026, 7, 1, 7, 0, tzinfo=UTC)  # CEST = UTC+2


@pytest.mark.parametrize(
    "start, end, confirm, message",
    [
        (datetime(2026, 1, 1, 10), datetime(2026, 1, 1, 9), False, "End must be after start."),
        (datetime(2026, 1, 1, 10), datetime(2026, 1, 1, 10), False, "End must be after start."),
        (datetime(2026, 1, 1, 10), datetime(2026, 1, 2, 10, 1), False, "longer than 24 hours"),
    ],
)
def test_bad_spans_are_refused_and_nothing_written(ready_app, berliner, make_project, start, end,
                                                   confirm, message):
    ids = make_project()
    with ready_app.app_context():
        with pytest.raises(ValidationError, match=message):
            entries.create_entry(_user(berliner), project_id=ids["project_id"], started_at=start,
                                 ended_at=end, confirm_long=confirm)
        assert _count() == 0


def test_a_long_entry_is_accepted_once_confirmed(ready_app, berliner, make_project):
    ids = make_project()
    with ready_app.app_context():
        entry = entries.create_entry(
            _user(berliner), project_id=ids["project_id"], started_at=datetime(2026, 1, 1, 8),
            ended_at=datetime(2026, 1, 2, 20), confirm_long=True,
        )
        assert entry.duration_seconds == 36 * 3600


def test_archived_projects_take_no_new_time(ready_app, berliner, make_project):
    from app.services import catalog

    ids = make_project()
    with ready_app.app_context():
        catalog.update_project(ids["project_id"], name="Website", client_id=ids["client_id"],
                               archived=True)
        with pytest.raises(ValidationError, match="archived"):
            entries.create_entry(_user(berliner), project_id=ids["project_id"],
                                 started_at=datetime(2026, 1, 1, 8), ended_at=datetime(2026, 1, 1, 9))
        assert _count() == 0


def test_another_users_entry_is_not_found_but_admins_see_it(ready_app, berliner, make_user,
                                                             make_project):
    other = make_user("other")
    ids = make_project()
    with ready_app.app_context():
        entry = entries.create_entry(_user(other), project_id=ids["project_id"],
                                     started_at=datetime(2026, 1, 1, 8), ended_at=datetime(2026, 1, 1, 9))
        with pytest.raises(NotFound):
            entries.get_entry_for(_user(berliner), entry.id)
        with pytest.raises(NotFound):
            entries.delete_entry(_user(berliner), entry.id)
        assert _count() == 1
        admin = db.session.scalar(select(User).where(User.username == "admin"))
        assert entries.get_entry_for(admin, entry.id).id == entry.id


def test_update_keeps_a_running_entry_running_without_an_end(ready_app, berliner, make_project):
    from app.services import timer

    ids = make_project()
    with ready_app.app_context():
        running = timer.start_timer(_user(berliner), project_id=ids["project_id"])
        updated = entries.update_entry(
            _user(berliner), running.id, project_id=ids["project_id"],
            started_at=running.started_at - timedelta(hours=1), ended_at=None, notes="fixed start",
        )
        assert updated.is_running and updated.notes == "fixed start"


def test_totals_use_the_users_day_and_week(ready_app, berliner, make_project):
    ids = make_project()
    # Wednesday 2026-01-14, 00:30 in Berlin = Tuesday 23:30 UTC.
    now = datetime(2026, 1, 13, 23, 30, tzinfo=UTC)
    with ready_app.app_context():
        user = _user(berliner)
        make = lambda s, e: entries.create_entry(  # noqa: E731
            user, project_id=ids["project_id"], started_at=s, ended_at=e)
        make(datetime(2026, 1, 14, 0, 0), datetime(2026, 1, 14, 0, 20))   # today (Berlin)
        make(datetime(2026, 1, 13, 22, 0), datetime(2026, 1, 13, 23, 0))  # yesterday, this week
        make(datetime(2026, 1, 12, 9, 0), datetime(2026, 1, 12, 10, 0))   # Monday, this week
        make(datetime(2026, 1, 11, 9, 0), datetime(2026, 1, 11, 10, 0))   # Sunday: last week
        totals = entries.totals_for(user, now=now)
        assert totals.today_seconds == 20 * 60
        assert totals.week_seconds == 20 * 60 + 2 * 3600


def test_list_filters_by_date_project_and_client(ready_app, berliner, make_project):
    a = make_project(name="A", client_name="Client A")
    b = make_project(name="B", client_name="Client B")
    with ready_app.app_context():
        user = _user(berliner)
        for day in (1, 2, 3):
            for ids in (a, b):
                entries.create_entry(user, project_id=ids["project_id"],
                                     started_at=datetime(2026, 3, day, 9), ended_at=datetime(2026, 3, day, 10))

        def listed(**filters):
            query = entries.filtered_entries_query(user, entries.EntryFilters(**filters))
            return db.session.scalars(query).unique().all()

        assert len(listed()) == 6
        assert len(listed(start=datetime(2026, 3, 2).date(), end=datetime(2026, 3, 2).date())) == 2
        assert {e.project_id for e in listed(project_id=a["project_id"])} == {a["project_id"]}
        assert {e.project_id for e in listed(client_id=b["client_id"])} == {b["project_id"]}
