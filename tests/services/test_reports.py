"""Report totals are the sums of the entries behind them, on SQLite and PostgreSQL,
for viewers in different time zones (hypothesis property test), plus the edges."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete

from app.extensions import db
from app.models import TimeEntry, User
from app.services import catalog, reports
from app.services.errors import Forbidden, ValidationError
from app.services.reports import ReportFilters

from ..support.money import amount_of

# Reports cover days from Oct 19, 2026 on: Europe leaves summer time on Oct 25,
# the US on Nov 1, so day boundaries move inside the window.
WINDOW_START = datetime(2026, 10, 19, tzinfo=timezone.utc)
VIEWER_ZONES = {"admin": "Europe/Berlin", "alice": "America/New_York", "bob": "Asia/Kathmandu"}


@pytest.fixture
def world(ready_app, make_user):
    """Three users in three zones; projects and tasks with rates at every level."""
    make_user("alice", timezone=VIEWER_ZONES["alice"])
    make_user("bob", timezone=VIEWER_ZONES["bob"])
    with ready_app.app_context():
        admin = db.session.scalar(db.select(User).where(User.username == "admin"))
        admin.timezone = VIEWER_ZONES["admin"]
        db.session.commit()
        acme = catalog.create_client(name="Acme", default_hourly_rate="50")
        solo = catalog.create_client(name="Solo")
        web = catalog.create_project(name="Web", client_id=acme.id, hourly_rate="80.50")
        app_ = catalog.create_project(name="App", client_id=acme.id)  # client rate applies
        misc = catalog.create_project(name="Misc", client_id=solo.id)  # no rate at all
        inner = catalog.create_project(name="Inner")  # no client
        design = catalog.create_task(actor=None, project_id=web.id, name="Design", hourly_rate="120")
        build = catalog.create_task(actor=None, project_id=app_.id, name="Build")
        projects = [
            {"id": web.id, "tasks": [None, design.id]},
            {"id": app_.id, "tasks": [None, build.id]},
            {"id": misc.id, "tasks": [None]},
            {"id": inner.id, "tasks": [None]},
        ]
        users = {u.username: u.id for u in db.session.scalars(db.select(User))}
    return {"app": ready_app, "projects": projects, "users": users}


def entry_strategy(first_day: int, length: int):
    """Entries starting from the day before the report's range to the day after it."""
    return st.fixed_dictionaries({
    "user": st.sampled_from(["admin", "alice", "bob"]),
    "project": st.integers(0, 3),
    "task": st.integers(0, 1),
    "start_day": st.integers(max(0, first_day - 1), first_day + length),
    # Half the starts fall within six hours of UTC midnight, where the
    # viewers' local days and UTC days disagree: that is where bugs hide.
    "start_minute": st.integers(0, 1439) | st.integers(-360, 360).map(lambda m: m % 1440),
    "seconds": st.integers(0, 12 * 3600),
    "billable": st.booleans(),
    })


def _rate(project_index: int, task_index: int) -> Decimal | None:
    """The rate the world fixture set up: task, then project, then client."""
    if project_index == 0:
        return Decimal("120") if task_index == 1 else Decimal("80.50")
    if project_index == 1:
        return Decimal("50")
    return None


@given(
    data=st.data(),
    viewer=st.sampled_from(["admin", "alice", "bob"]),
    first_day=st.integers(0, 14),
    length=st.integers(1, 10),
    group_by=st.sampled_from(reports.GROUPINGS),
    billable=st.sampled_from([None, True, False]),
)
@settings(max_examples=100, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
def test_report_totals_equal_the_sum_of_the_entries(world, data, viewer, first_day, length,
                                                    group_by, billable):
    app, projects, users = world["app"], world["projects"], world["users"]
    entries = data.draw(st.lists(entry_strategy(first_day, length), min_size=1, max_size=25),
                        label="entries")
    tz = ZoneInfo(VIEWER_ZONES[viewer])
    start = date(2026, 10, 19) + timedelta(days=first_day)
    end = start + timedelta(days=length - 1)
    with app.app_context():
        db.session.execute(delete(TimeEntry))
        # [seconds, billable seconds, amount]: each entry's amount rounded half up to the
        # cent, every figure the exact sum of those.
        expected = defaultdict(lambda: [0, 0, Decimal(0)])
        for spec in entries:
            project = projects[spec["project"]]
            task_index = spec["task"] % len(project["tasks"])
            started = WINDOW_START + timedelta(days=spec["start_day"], minutes=spec["start_minute"])
            db.session.add(TimeEntry(
                user_id=users[spec["user"]], project_id=project["id"],
                task_id=project["tasks"][task_index], started_at=started,
                ended_at=started + timedelta(seconds=spec["seconds"]),
                duration_seconds=spec["seconds"], billable=spec["billable"], source="manual",
            ))
            # The expectation, computed entry by entry in Python.
            visible = viewer == "admin" or spec["user"] == viewer
            local_day = started.astimezone(tz).date()
            if not visible or not start <= local_day <= end:
                continue
            if billable is not None and spec["billable"] is not billable:
                continue
            key = {
                "project": str(project["id"]),
                "client": {0: "acme", 1: "acme", 2: "solo", 3: "none"}[spec["project"]],
                "task": str(project["tasks"][task_index] or "none"),
                "user": str(users[spec["user"]]),
                "day": local_day.isoformat(),
                "tag": "none",  # untagged entries (tags: tests/services/test_tags.py)
            }[group_by]
            expected[key][0] += spec["seconds"]
            if spec["billable"]:
                expected[key][1] += spec["seconds"]
                rate = _rate(spec["project"], task_index)
                if rate is not None:
                    expected[key][2] += amount_of(spec["seconds"], rate)
        db.session.commit()

        viewer_user = db.session.get(User, users[viewer])
        report = reports.summary(
            viewer_user, ReportFilters(start=start, end=end, billable=billable), group_by
        )

    assert report.timezone == VIEWER_ZONES[viewer]
    assert report.total_seconds == sum(v[0] for v in expected.values())
    assert report.billable_seconds == sum(v[1] for v in expected.values())
    assert report.amount == sum((v[2] for v in expected.values()), Decimal("0.00"))
    if group_by != "tag":  # no entry here has two tags, but the tag total is computed apart
        assert sum((row.amount for row in report.rows), Decimal("0.00")) == report.amount
    got = {row.key: row for row in report.rows}
    if group_by == "client":  # client keys are ids; map them back to the fixture's names
        got = {("none" if k == "none" else row.label.lower()): row for k, row in got.items()}
    if group_by == "day":  # every day of the range is listed; compare the days with time
        assert {k for k, row in got.items() if row.seconds} == {
            k for k, v in expected.items() if v[0]}
    else:
        assert set(got) == set(expected)
    for key, (seconds, billable_seconds, amount) in expected.items():
        if group_by == "day" and not seconds:
            continue
        assert got[key].seconds == seconds
        assert got[key].billable_seconds == billable_seconds
        assert got[key].amount == amount
    if group_by == "day":
        assert [row.key for row in report.rows] == [
            (start + timedelta(days=i)).isoformat() for i in range(length)
        ]


def test_a_day_is_the_viewers_local_day_across_a_dst_change(world):
    """00:30 local on the day Europe leaves summer time is still that day in Berlin."""
    app, users = world["app"], world["users"]
    with app.app_context():
        berlin = ZoneInfo("Europe/Berlin")
        started = datetime(2026, 10, 25, 0, 30, tzinfo=berlin)  # 22:30 UTC the day before
        late = datetime(2026, 10, 25, 23, 30, tzinfo=berlin)  # after the 25-hour day's 24th hour
        for when in (started, late):
            db.session.add(TimeEntry(
                user_id=users["admin"], project_id=world["projects"][3]["id"], started_at=when,
                ended_at=when + timedelta(minutes=20), duration_seconds=1200, billable=True,
                source="manual"))
        db.session.commit()
        admin = db.session.get(User, users["admin"])
        report = reports.summary(admin, ReportFilters(start=date(2026, 10, 24),
                                                      end=date(2026, 10, 26)), "day")
    assert [(r.key, r.seconds) for r in report.rows] == [
        ("2026-10-24", 0), ("2026-10-25", 2400), ("2026-10-26", 0)]


def test_a_years_days_follow_both_dst_changes(world):
    """A year by day (PostgreSQL sums each local day apart): entries either side of
    both 2026 changes in Berlin, the repeated hour in October included, land on the
    local day Python gives them."""
    app, users = world["app"], world["users"]
    berlin = ZoneInfo("Europe/Berlin")
    starts = [
        datetime(2026, 1, 1, 0, 0, tzinfo=berlin),
        datetime(2026, 3, 28, 23, 59, tzinfo=berlin),
        datetime(2026, 3, 29, 1, 59, tzinfo=berlin),  # the last minute of winter time
        datetime(2026, 3, 29, 3, 0, tzinfo=berlin),  # the first of summer time
        datetime(2026, 10, 24, 23, 30, tzinfo=berlin),
        datetime(2026, 10, 25, 2, 30, tzinfo=berlin),  # the repeated hour, first time
        datetime(2026, 10, 25, 2, 30, fold=1, tzinfo=berlin),  # and second time
        datetime(2026, 10, 25, 23, 59, tzinfo=berlin),
        datetime(2026, 12, 31, 23, 59, tzinfo=berlin),
    ]
    with app.app_context():
        for n, when in enumerate(starts):
            when = when.astimezone(timezone.utc)
            db.session.add(TimeEntry(
                user_id=users["admin"], project_id=world["projects"][3]["id"], started_at=when,
                ended_at=when + timedelta(seconds=60 + n), duration_seconds=60 + n,
                billable=False, source="manual"))
        db.session.commit()
        admin = db.session.get(User, users["admin"])
        report = reports.summary(admin, ReportFilters(start=date(2026, 1, 1),
                                                      end=date(2026, 12, 31)), "day")
    expected = defaultdict(int)
    for n, when in enumerate(starts):
        expected[when.astimezone(timezone.utc).astimezone(berlin).date().isoformat()] += 60 + n
    assert {r.key: r.seconds for r in report.rows if r.seconds} == dict(expected)
    assert len(report.rows) == 365


def _offset_changes_2026(tz) -> list[datetime]:
    """The UTC instants ``tz`` changes its offset in 2026, found by stepping 15 minutes
    (every zone's offsets are whole quarter hours) and then second by second."""
    changes, step = [], timedelta(minutes=15)
    when = datetime(2025, 12, 31, tzinfo=timezone.utc)
    while when < datetime(2027, 1, 2, tzinfo=timezone.utc):
        if (when + step).astimezone(tz).utcoffset() != when.astimezone(tz).utcoffset():
            exact = when
            while exact.astimezone(tz).utcoffset() == when.astimezone(tz).utcoffset():
                exact += timedelta(seconds=1)
            changes.append(exact)
        when += step
    return changes


@pytest.mark.parametrize("zone_name", [
    "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu", "UTC"])
@pytest.mark.parametrize("narrowed", [False, True], ids=["everyone", "one-user"])
def test_a_years_days_and_amounts_match_python_in_every_kind_of_zone(world, zone_name, narrowed):
    """A year by day, for an admin seeing everyone (PostgreSQL sums each day apart) and
    for one user (one pass bucketed by UTC offset): entries a second and a minute either
    side of every offset change of 2026 (a 30-minute one in Lord Howe, none in Kathmandu
    or UTC) and of the local midnights around them, of the range's first and last
    instants and just outside them, billable at two rates or not: each lands on the
    local day Python gives it, with that day's seconds, billable seconds and amount."""
    app, users, projects = world["app"], world["users"], world["projects"]
    tz = ZoneInfo(zone_name)
    first, last = date(2026, 1, 1), date(2026, 12, 31)

    def midnight(day: date) -> datetime:
        return datetime.combine(day, datetime.min.time(), tzinfo=tz).astimezone(timezone.utc)

    instants = {midnight(first), midnight(last + timedelta(days=1)) - timedelta(seconds=1),
                midnight(first) - timedelta(seconds=1), midnight(last + timedelta(days=1))}
    for change in _offset_changes_2026(tz) or [midnight(date(2026, 6, 15)) + timedelta(hours=5)]:
        day = change.astimezone(tz).date()
        for edge in (change, midnight(day), midnight(day + timedelta(days=1)),
                     midnight(day - timedelta(days=1))):
            for delta in (-60, -1, 0, 1, 60):
                instants.add(edge + timedelta(seconds=delta))
    with app.app_context():
        admin = db.session.get(User, users["admin"])
        admin.timezone = zone_name
        expected = defaultdict(lambda: [0, 0, Decimal(0)])
        for n, when in enumerate(sorted(instants)):
            seconds, billable, task = 60 + 7 * n, n % 3 != 0, n % 2
            db.session.add(TimeEntry(
                user_id=users["admin"], project_id=projects[0]["id"],
                task_id=projects[0]["tasks"][task], started_at=when,
                ended_at=when + timedelta(seconds=seconds), duration_seconds=seconds,
                billable=billable, source="manual"))
            local_day = when.astimezone(tz).date()
            if first <= local_day <= last:
                totals = expected[local_day.isoformat()]
                totals[0] += seconds
                if billable:
                    totals[1] += seconds
                    totals[2] += amount_of(seconds, _rate(0, task))
        db.session.commit()
        filters = ReportFilters(start=first, end=last,
                                user_id=users["admin"] if narrowed else None)
        report = reports.summary(admin, filters, "day")
    assert len(report.rows) == 365
    assert {r.key: (r.seconds, r.billable_seconds, r.amount) for r in report.rows if r.seconds} == {
        day: (s, b, amount)
        for day, (s, b, amount) in expected.items()}
    assert report.total_seconds == sum(s for s, _, _ in expected.values())


def test_each_entry_is_rounded_once_and_the_total_is_the_sum_of_the_rows(world):
    """Web at 80.50 for 42, 167 and 23 s (0.939..., 3.734..., 0.514...: 0.94 + 3.73 + 0.51),
    App at 50 for 33,451 s (464.597...: 464.60): rows 5.18 and 464.60, total 469.78.

    Rounding each row's exact sum instead gives Web 5.19 (5.1877...), and rows that add
    up to 469.79 under a total of 469.78 (469.785 rounded half to even).
    """
    app, users, projects = world["app"], world["users"], world["projects"]
    with app.app_context():
        start = datetime(2026, 10, 20, 9, 0, tzinfo=timezone.utc)
        for project, seconds in ((0, 42), (1, 33451), (0, 167), (0, 23)):
            db.session.add(TimeEntry(
                user_id=users["admin"], project_id=projects[project]["id"], started_at=start,
                ended_at=start + timedelta(seconds=seconds), duration_seconds=seconds,
                billable=True, source="manual"))
        db.session.commit()
        admin = db.session.get(User, users["admin"])
        report = reports.summary(admin, ReportFilters(start=date(2026, 10, 20),
                                                      end=date(2026, 10, 20)), "project")
    assert sorted(row.amount for row in report.rows) == [Decimal("5.18"), Decimal("464.60")]
    assert report.amount == Decimal("469.78")


def test_running_timers_are_not_in_reports(world):
    app, users = world["app"], world["users"]
    with app.app_context():
        db.session.add(TimeEntry(user_id=users["admin"], project_id=world["projects"][0]["id"],
                                 started_at=datetime(2026, 10, 21, 9, tzinfo=timezone.utc),
                                 source="timer"))
        db.session.commit()
        admin = db.session.get(User, users["admin"])
        report = reports.summary(admin, ReportFilters(start=date(2026, 10, 21),
                                                      end=date(2026, 10, 21)))
    assert report.total_seconds == 0 and report.rows == []


def test_report_input_is_checked(world):
    app, users = world["app"], world["users"]
    with app.app_context():
        alice = db.session.get(User, users["alice"])
        day = date(2026, 10, 21)
        with pytest.raises(ValidationError):
            reports.summary(alice, ReportFilters(start=day, end=day), "week")
        with pytest.raises(ValidationError):
            reports.summary(alice, ReportFilters(start=day, end=day - timedelta(days=1)))
        with pytest.raises(ValidationError):
            reports.summary(alice, ReportFilters(start=day, end=day + timedelta(days=400)))
        with pytest.raises(Forbidden):
            reports.summary(alice, ReportFilters(start=day, end=day, user_id=users["bob"]))


@pytest.mark.parametrize(
    "preset, expected",
    [
        ("this_week", (date(2026, 11, 23), date(2026, 11, 29))),
        ("last_week", (date(2026, 11, 16), date(2026, 11, 22))),
        ("this_month", (date(2026, 11, 1), date(2026, 11, 30))),
        ("last_month", (date(2026, 10, 1), date(2026, 10, 31))),
    ],
)
def test_presets(preset, expected):
    assert reports.preset_range(preset, date(2026, 11, 25)) == expected
    assert reports.preset_range("last_month", date(2026, 1, 15)) == (date(2025, 12, 1),
                                                                      date(2025, 12, 31))
