"""Money agrees to the cent everywhere it is shown (issue 20, item 6): the report's rows
and total (service, API, reports page) and the CSV's amount column, for every grouping,
on SQLite and PostgreSQL. The rule (docs/api.md): each entry's amount is rounded once,
half up to the cent; every total is the exact sum of those."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete

from app.extensions import db
from app.models import Client, Project, Task, TimeEntry, User, time_entry_tags
from app.services import catalog, reports
from app.services.tags import resolve_tags

from ..conftest import ADMIN_PASSWORD, login
from ..support.money import amount_of
from .conftest import ApiClient

MONDAY = datetime(2026, 11, 16, tzinfo=timezone.utc)
WEEK = "start=2026-11-16&end=2026-11-22"
ZERO = Decimal("0.00")


def _book(app, project_id, day, seconds, *, task_id=None, billable=True, tags=(), user="admin"):
    with app.app_context():
        user_id = db.session.scalar(db.select(User.id).where(User.username == user))
        started = MONDAY + timedelta(days=day, hours=8)
        entry = TimeEntry(user_id=user_id, project_id=project_id, task_id=task_id,
                          started_at=started, ended_at=started + timedelta(seconds=seconds),
                          duration_seconds=seconds, billable=billable, source="manual")
        entry.tags = resolve_tags(list(tags))
        db.session.add(entry)
        db.session.commit()


def _csv(api, query: str) -> list[dict]:
    response = api.get(f"/api/v1/time-entries/export.csv?{query}")
    assert response.status_code == 200
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


def _summary(api, group_by: str) -> dict:
    response = api.get(f"/api/v1/reports/summary?{WEEK}&group_by={group_by}")
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


@pytest.fixture
def issue_week(ready_app):
    """The week of the issue: Web at 80.50 for 8:00 + 5:15 (13:15, 1066.625 exactly) and
    Ops at 50.00 for 38:31:30 over five days (1926.25): 2992.875 in all."""
    with ready_app.app_context():
        web = catalog.create_project(name="Web", hourly_rate="80.50").id
        ops = catalog.create_project(name="Ops", hourly_rate="50.00").id
    _book(ready_app, web, 0, 8 * 3600)
    _book(ready_app, web, 1, 5 * 3600 + 15 * 60)  # 422.625: the half cent
    for day in range(4):
        _book(ready_app, ops, day, 8 * 3600)
    _book(ready_app, ops, 4, 6 * 3600 + 31 * 60 + 30)
    return {"web": web, "ops": ops}


def test_the_issues_week_agrees_to_the_cent_in_rows_total_csv_and_api(ready_app, issue_week,
                                                                     admin_api):
    """Before: rows 1066.62 + 1926.25 = 2992.87 under a total of 2992.88."""
    body = _summary(admin_api, "project")
    rows = {row["label"]: row["billable_amount"] for row in body["rows"]}
    assert rows == {"Web": "1066.63", "Ops": "1926.25"}
    assert body["billable_amount"] == "2992.88"
    exported = _csv(admin_api, WEEK)
    assert [r["amount"] for r in exported if r["rate"] == "80.50"] == ["644.00", "422.63"]
    assert sum(Decimal(r["amount"]) for r in exported) == Decimal("2992.88")
    with ready_app.app_context():
        admin = db.session.scalar(db.select(User).where(User.username == "admin"))
        report = reports.summary(admin, reports.ReportFilters(
            start=MONDAY.date(), end=MONDAY.date() + timedelta(days=6)), "project")
    assert sum(row.amount for row in report.rows) == report.amount == Decimal("2992.88")


def test_thirteen_fifteen_at_80_50_is_1066_63_on_the_page_in_the_csv_and_the_api(ready_app,
                                                                                 admin_api):
    with ready_app.app_context():
        web = catalog.create_project(name="Web", hourly_rate="80.50").id
    _book(ready_app, web, 2, 13 * 3600 + 15 * 60)
    assert _summary(admin_api, "day")["billable_amount"] == "1066.63"
    assert [(r["rate"], r["amount"]) for r in _csv(admin_api, WEEK)] == [("80.50", "1066.63")]
    page = ready_app.test_client()
    assert login(page, "admin", ADMIN_PASSWORD).status_code == 302
    html = page.get(f"/reports?preset=custom&{WEEK}&group_by=project").get_data(as_text=True)
    assert re.search(r'id="billable-amount">1066\.63 ', html)
    assert re.findall(r'<td class="num">(\d+\.\d\d)</td></tr>', html) == ["1066.63"]


def test_the_reports_page_shows_the_rows_and_total_the_api_gives(ready_app, issue_week, admin_api):
    page = ready_app.test_client()
    assert login(page, "admin", ADMIN_PASSWORD).status_code == 302
    html = page.get(f"/reports?preset=custom&{WEEK}&group_by=project").get_data(as_text=True)
    total = re.search(r'id="billable-amount">(\d+\.\d\d) ', html).group(1)
    cells = re.findall(r'<td class="num">(\d+\.\d\d)</td></tr>', html)
    assert total == _summary(admin_api, "project")["billable_amount"] == "2992.88"
    assert sorted(cells) == ["1066.63", "1926.25"]


def test_rates_and_amounts_in_the_csv_are_for_admins_only(ready_app, issue_week, make_user,
                                                         make_token):
    make_user("alice")
    with ready_app.app_context():
        alice = db.session.scalar(db.select(User.id).where(User.username == "alice"))
    _book(ready_app, issue_week["web"], 0, 3600, user="alice")
    alice_api = ApiClient(ready_app.test_client(), make_token("alice"))
    (row,) = _csv(alice_api, WEEK)
    assert row["user"] == "alice" and (row["rate"], row["amount"]) == ("", "")
    admin_api = ApiClient(ready_app.test_client(), make_token("admin"))
    mine = [r for r in _csv(admin_api, f"{WEEK}&user_id={alice}")]
    assert [(r["rate"], r["amount"]) for r in mine] == [("80.50", "80.50")]


def test_non_billable_and_rateless_entries_bill_nothing_and_a_running_timer_has_no_amount(
        ready_app, admin_api):
    with ready_app.app_context():
        web = catalog.create_project(name="Web", hourly_rate="80.50").id
        free = catalog.create_project(name="Free").id
        admin_id = db.session.scalar(db.select(User.id).where(User.username == "admin"))
        db.session.add(TimeEntry(user_id=admin_id, project_id=web, started_at=MONDAY,
                                 source="timer"))
        db.session.commit()
    _book(ready_app, web, 1, 3600, billable=False)
    _book(ready_app, free, 1, 3600)
    cells = [(r["project"], r["billable"], r["rate"], r["amount"]) for r in _csv(admin_api, WEEK)]
    assert cells == [("Web", "yes", "80.50", ""), ("Web", "no", "80.50", "0.00"),
                     ("Free", "yes", "", "0.00")]
    assert _summary(admin_api, "project")["billable_amount"] == "0.00"


# -- the property: every surface, every grouping, random rates and entries ----------------

_RATES = st.none() | st.decimals(min_value=0, max_value=1000, places=2, allow_nan=False,
                                 allow_infinity=False)
_ENTRY = st.fixed_dictionaries({
    "project": st.integers(0, 3),
    "task": st.booleans(),
    "day": st.integers(0, 6),
    "seconds": st.integers(0, 12 * 3600) | st.sampled_from([1, 18, 36, 45, 1800, 47700]),
    "billable": st.booleans(),
    "tags": st.sets(st.sampled_from(["alpha", "beta"])),
    "user": st.sampled_from(["admin", "alice"]),
})


@pytest.fixture
def rate_world(ready_app, make_user, make_token):
    """Client Acme; projects Web (Acme), App (Acme), Solo, Free (no client); a task on
    each of the first two. The property sets every rate anew per example."""
    make_user("alice")
    with ready_app.app_context():
        acme = catalog.create_client(name="Acme").id
        projects = [catalog.create_project(name=name, client_id=client).id
                    for name, client in (("Web", acme), ("App", acme), ("Solo", None),
                                         ("Free", None))]
        tasks = [catalog.create_task(actor=None, project_id=projects[i], name=f"Task {i}").id
                 for i in (0, 1)]
    return {"app": ready_app, "client": acme, "projects": projects, "tasks": tasks,
            "api": ApiClient(ready_app.test_client(), make_token("admin"))}


@given(data=st.data())
@settings(max_examples=50, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
def test_report_rows_total_csv_and_api_agree_to_the_cent_for_every_grouping(rate_world, data):
    app, api = rate_world["app"], rate_world["api"]
    projects, tasks = rate_world["projects"], rate_world["tasks"]
    client_rate, project_rates, task_rates = (
        data.draw(_RATES, label="client rate"),
        data.draw(st.lists(_RATES, min_size=4, max_size=4), label="project rates"),
        data.draw(st.lists(_RATES, min_size=2, max_size=2), label="task rates"))
    entries = data.draw(st.lists(_ENTRY, min_size=1, max_size=20), label="entries")
    with app.app_context():
        db.session.execute(delete(time_entry_tags))
        db.session.execute(delete(TimeEntry))
        db.session.get(Client, rate_world["client"]).default_hourly_rate = client_rate
        for ident, rate in zip(projects, project_rates):
            db.session.get(Project, ident).hourly_rate = rate
        for ident, rate in zip(tasks, task_rates):
            db.session.get(Task, ident).hourly_rate = rate
        db.session.commit()
    expected = ZERO  # the rule applied entry by entry, here in Decimal
    for spec in entries:
        index = spec["project"]
        task = tasks[index] if spec["task"] and index < 2 else None
        rate = next((r for r in (task_rates[index] if task else None, project_rates[index],
                                 client_rate if index < 2 else None) if r is not None), None)
        if spec["billable"] and rate is not None:
            expected += amount_of(spec["seconds"], rate)
        _book(app, projects[index], spec["day"], spec["seconds"], task_id=task,
              billable=spec["billable"], tags=sorted(spec["tags"]), user=spec["user"])

    exported = _csv(api, WEEK)
    assert len(exported) == len(entries)
    csv_total = sum((Decimal(r["amount"]) for r in exported), ZERO)
    # Under "tag" an entry counts once per tag (or once under "No tag").
    csv_tagged = sum((Decimal(r["amount"]) * (len(r["tags"].split("; ")) if r["tags"] else 1)
                      for r in exported), ZERO)
    assert csv_total == expected
    for group_by in reports.GROUPINGS:
        body = _summary(api, group_by)
        rows = sum((Decimal(row["billable_amount"]) for row in body["rows"]), ZERO)
        assert Decimal(body["billable_amount"]) == csv_total, group_by
        assert rows == (csv_tagged if group_by == "tag" else csv_total), group_by
