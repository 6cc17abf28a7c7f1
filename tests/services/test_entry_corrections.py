"""Issue 14's wrong numbers, at the service level: future entries in the totals, billable
defaults, DST gaps and repeated hours, decimal commas and typed durations."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import TimeEntry, User
from app.services import catalog, entries
from app.services.errors import ValidationError
from app.services.validation import clean_rate, parse_duration

UTC = timezone.utc


@pytest.fixture
def berliner(ready_app, make_user):
    return make_user("berliner", timezone="Europe/Berlin")


def _user(user_id):
    return db.session.get(User, user_id)


def _count():
    return db.session.scalar(select(func.count(TimeEntry.id)))


def test_entries_dated_in_the_future_count_neither_today_nor_this_week(
        ready_app, berliner, make_project):
    ids = make_project()
    # Wednesday 2026-03-11 10:00 in Berlin.
    now = datetime(2026, 3, 11, 9, 0, tzinfo=UTC)
    with ready_app.app_context():
        user = _user(berliner)
        for start, hours in ((datetime(2026, 3, 11, 8), 1),    # today: counts
                             (datetime(2026, 3, 12, 8), 2),    # tomorrow: this week only
                             (datetime(2026, 3, 16, 8), 4),    # next Monday: neither
                             (datetime(2026, 3, 25, 8), 8)):   # two weeks ahead: neither
            entries.create_entry(user, project_id=ids["project_id"], started_at=start,
                                 ended_at=start + timedelta(hours=hours))
        totals = entries.totals_for(user, now=now)
    assert totals.today_seconds == 1 * 3600
    assert totals.week_seconds == 3 * 3600


def test_a_manual_entry_takes_the_projects_billable_setting_unless_told(ready_app, berliner):
    with ready_app.app_context():
        internal = catalog.create_project(name="Internal", billable=False)
        user = _user(berliner)
        start = datetime(2026, 1, 5, 9)
        default = entries.create_entry(user, project_id=internal.id, started_at=start,
                                       ended_at=start + timedelta(hours=1))
        forced = entries.create_entry(user, project_id=internal.id, started_at=start,
                                      ended_at=start + timedelta(hours=1), billable=True)
        assert default.billable is False
        assert forced.billable is True


def test_a_time_in_the_spring_gap_is_refused_and_nothing_is_written(
        ready_app, berliner, make_project):
    ids = make_project()
    with ready_app.app_context():
        with pytest.raises(ValidationError) as exc:
            entries.create_entry(_user(berliner), project_id=ids["project_id"],
                                 started_at=datetime(2026, 3, 29, 2, 30),
                                 ended_at=datetime(2026, 3, 29, 4, 0))
        assert exc.value.field == "started_at"
        assert "does not exist in Europe/Berlin" in exc.value.message
        assert _count() == 0


def test_the_autumn_repeated_hour_must_be_chosen_and_each_choice_is_an_hour_apart(
        ready_app, berliner, make_project):
    ids = make_project()
    with ready_app.app_context():
        user = _user(berliner)
        with pytest.raises(ValidationError) as exc:
            entries.create_entry(user, project_id=ids["project_id"],
                                 started_at=datetime(2026, 10, 25, 2, 30),
                                 ended_at=datetime(2026, 10, 25, 5, 0))
        assert "happens twice" in exc.value.message
        assert "CEST, UTC+02:00" in exc.value.message and "CET, UTC+01:00" in exc.value.message
        assert _count() == 0
        first = entries.create_entry(user, project_id=ids["project_id"],
                                     started_at=datetime(2026, 10, 25, 2, 30),
                                     ended_at=datetime(2026, 10, 25, 5, 0), repeated_hour="first")
        second = entries.create_entry(user, project_id=ids["project_id"],
                                      started_at=datetime(2026, 10, 25, 2, 30),
                                      ended_at=datetime(2026, 10, 25, 5, 0), repeated_hour="second")
        assert first.started_at == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
        assert second.started_at == datetime(2026, 10, 25, 1, 30, tzinfo=UTC)
        # 02:30 CEST → 05:00 CET is three and a half real hours.
        assert first.duration_seconds == 3.5 * 3600


def test_an_explicit_offset_is_never_ambiguous(ready_app, berliner, make_project):
    ids = make_project()
    with ready_app.app_context():
        entry = entries.create_entry(
            _user(berliner), project_id=ids["project_id"],
            started_at=datetime.fromisoformat("2026-10-25T02:30:00+01:00"),
            ended_at=datetime.fromisoformat("2026-10-25T03:30:00+01:00"))
        assert entry.started_at == datetime(2026, 10, 25, 1, 30, tzinfo=UTC)


def test_an_entry_by_duration_ends_that_long_after_its_start(ready_app, berliner, make_project):
    ids = make_project()
    with ready_app.app_context():
        entry = entries.create_entry(_user(berliner), project_id=ids["project_id"],
                                     started_at=datetime(2026, 1, 5, 9), ended_at=None,
                                     duration_seconds=parse_duration("1h30"))
        assert entry.ended_at - entry.started_at == timedelta(minutes=90)
        with pytest.raises(ValidationError, match="end or a duration"):
            entries.create_entry(_user(berliner), project_id=ids["project_id"],
                                 started_at=datetime(2026, 1, 5, 9), ended_at=None)


@pytest.mark.parametrize("typed, seconds", [
    ("1:30", 5400), ("1.5", 5400), ("1,5", 5400), ("90m", 5400), ("90 min", 5400),
    ("1h30", 5400), ("1h 30m", 5400), ("2", 7200), ("2h", 7200), ("0:05", 300), ("", None),
    ("0.25", 900),
])
def test_durations_are_read_in_every_common_form(typed, seconds):
    assert parse_duration(typed) == seconds


@pytest.mark.parametrize("typed", ["abc", "1:75", "1h75", "25:00", "1.5.5", "-1", "1:3"])
def test_unreadable_durations_are_refused_with_the_accepted_forms(typed):
    with pytest.raises(ValidationError) as exc:
        parse_duration(typed)
    assert exc.value.field == "duration"


@pytest.mark.parametrize("typed, rate", [
    ("120,50", Decimal("120.50")), ("120,5", Decimal("120.50")), ("120.50", Decimal("120.50")),
    ("85", Decimal("85.00")),
])
def test_a_decimal_comma_is_accepted_in_rates(typed, rate):
    assert clean_rate(typed) == rate


@pytest.mark.parametrize("typed", ["1,200", "1.200,50", "12,3,4"])
def test_ambiguous_separators_are_refused_not_guessed(typed):
    with pytest.raises(ValidationError):
        clean_rate(typed)


def test_a_client_rate_with_a_decimal_comma_is_stored(ready_app):
    with ready_app.app_context():
        client = catalog.create_client(name="Kunde", default_hourly_rate="120,50")
        assert client.default_hourly_rate == Decimal("120.50")
