"""Every write path, in any order, through the web forms and the API (issue 20).

A hypothesis state machine drives the timer (start, switch, stop), manual entries,
edits (a form posted back untouched, one field changed), deletes and timesheet saves
(posted untouched, one cell typed) through both front doors, on SQLite and PostgreSQL.
It keeps the entries it expects (``model``) and, after every step, checks that:

- the database holds exactly the expected entries, to the second: a write changed what
  it was asked to and nothing else, and an untouched save changed nothing;
- at most one timer runs;
- the week's totals agree to the second and the cent on every surface that shows them:
  the timesheet's cells, the reports page, the API summary, the API entry list, the CSV
  export and the dashboard, with amounts by the documented rule (each entry's hours x
  rate, half up to the cent).

The user lives in Europe/Berlin, so local days and UTC differ; manual entries and the
timesheet use a past week without a clock change; timers run now, in this week.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import delete, func, select

from app.extensions import db
from app.models import TimeEntry, User, time_entry_tags
from app.routes.template_helpers import format_duration
from app.services import api_tokens, catalog
from app.services.users import find_by_username

from ..api.conftest import ApiClient
from ..conftest import ADMIN_PASSWORD, login
from ..support.forms import rendered_form
from ..support.money import amount_of

BERLIN = ZoneInfo("Europe/Berlin")
MONDAY = date(2026, 11, 16)  # a past week with no clock change in Berlin
WEEK = "2026-W47"
RANGE = "start=2026-11-16&end=2026-11-22"
ZERO = Decimal("0.00")
# Bounded: about a minute per database here (docs/development.md).
MACHINE_SETTINGS = settings(
    max_examples=24, stateful_step_count=20, deadline=None, database=None, derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@dataclass(frozen=True)
class Entry:
    project_id: int
    task_id: int | None
    started_at: datetime
    ended_at: datetime | None
    duration_seconds: int | None
    notes: str | None
    billable: bool

    @property
    def running(self) -> bool:
        return self.ended_at is None

    @property
    def local_day(self) -> date:
        return self.started_at.astimezone(BERLIN).date()


@dataclass(frozen=True)
class Row:
    """A (project, task) pair the user books on, with what it bills at."""
    project_id: int
    task_id: int | None
    billable: bool
    rate: Decimal | None


def _hm(seconds: int) -> str:
    return format_duration(seconds, "hm")


@pytest.fixture
def world(ready_app):
    """The admin (Berlin, H:MM) with four rows: Web at 80.50, its task Design at 33.33, Ops
    at its client's 50.00, and Internal, not billable and without a rate."""
    with ready_app.app_context():
        admin = db.session.scalar(select(User).where(User.username == "admin"))
        admin.timezone, admin.hours_format = "Europe/Berlin", "hm"
        db.session.commit()
        acme = catalog.create_client(name="Acme", default_hourly_rate="50.00").id
        web = catalog.create_project(name="Web", client_id=acme, hourly_rate="80.50").id
        design = catalog.create_task(actor=None, project_id=web, name="Design",
                                     hourly_rate="33.33").id
        ops = catalog.create_project(name="Ops", client_id=acme).id
        internal = catalog.create_project(name="Internal", billable=False).id
    rows = [Row(web, None, True, Decimal("80.50")), Row(web, design, True, Decimal("33.33")),
            Row(ops, None, True, Decimal("50.00")), Row(internal, None, False, None)]
    web_client = ready_app.test_client()
    assert login(web_client, "admin", ADMIN_PASSWORD).status_code == 302
    csrf = web_client.csrf_token()
    with ready_app.app_context():
        token = api_tokens.create_token(find_by_username("admin"), "property test").secret
    api = ApiClient(ready_app.test_client(), token)
    return {"app": ready_app, "rows": rows, "web": web_client, "csrf": csrf, "api": api}


def machine_for(world):
    app, rows, web, api, csrf = (world[k] for k in ("app", "rows", "web", "api", "csrf"))
    rate_of = {(r.project_id, r.task_id): r.rate for r in rows}
    billable_of = {r.project_id: r.billable for r in rows}

    def stored() -> dict[int, Entry]:
        with app.app_context():
            return {e.id: Entry(e.project_id, e.task_id, e.started_at, e.ended_at,
                                e.duration_seconds, e.notes or None, bool(e.billable))
                    for e in db.session.scalars(select(TimeEntry))}

    def post_form(url: str, data: dict):
        return web.post(url, data={**data, "csrf_token": csrf})

    def local(moment: datetime) -> str:
        return moment.astimezone(BERLIN).strftime("%Y-%m-%dT%H:%M:%S")

    class WritePaths(RuleBasedStateMachine):
        def __init__(self):
            super().__init__()
            with app.app_context():
                db.session.execute(delete(time_entry_tags))
                db.session.execute(delete(TimeEntry))
                db.session.commit()
            self.model: dict[int, Entry] = {}

        # -- helpers -------------------------------------------------------------------

        def running_id(self) -> int | None:
            return next((i for i, e in self.model.items() if e.running), None)

        def finished_ids(self) -> list[int]:
            return sorted(i for i, e in self.model.items() if not e.running)

        def expect(self, expected: dict[int, Entry]) -> None:
            assert stored() == expected
            self.model = expected

        def new_entries(self, after: dict[int, Entry]) -> dict[int, Entry]:
            return {i: e for i, e in after.items() if i not in self.model}

        # -- the timer -----------------------------------------------------------------

        @rule(via=st.sampled_from(["web", "api"]), row=st.integers(0, 3), switch=st.booleans())
        def start_timer(self, via, row, switch):
            target, running = rows[row], self.running_id()
            if via == "web":
                response = post_form("/timer/start", {
                    "timer-project_id": target.project_id, "timer-task_id": target.task_id or "",
                    "timer-notes": "", **({"timer-switch": "y"} if switch else {})})
                assert response.status_code == 302, response.get_data(as_text=True)[:300]
            else:
                response = api.post("/api/v1/timer/start", json={
                    "project_id": target.project_id, "task_id": target.task_id,
                    "switch": switch})
                refused = running is not None and not switch
                assert response.status_code == (409 if refused else 201)
            after = stored()
            if running is not None and not switch:
                self.expect(self.model)  # refused: nothing written
                return
            expected = dict(self.model)
            if running is not None:  # switched: the old one stopped at the new one's start
                stopped = after[running]
                assert stopped.ended_at is not None
                assert stopped.duration_seconds == int(
                    (stopped.ended_at - stopped.started_at).total_seconds())
                expected[running] = replace(self.model[running], ended_at=stopped.ended_at,
                                            duration_seconds=stopped.duration_seconds)
            (new_id, new), = self.new_entries(after).items()
            assert new.running and (new.project_id, new.task_id) == (target.project_id,
                                                                     target.task_id)
            expected[new_id] = new
            self.expect(expected)

        @rule(via=st.sampled_from(["web", "api"]))
        def stop_timer(self, via):
            running = self.running_id()
            if via == "web":
                assert post_form("/timer/stop", {}).status_code == 302
            else:
                response = api.post("/api/v1/timer/stop")
                assert response.status_code == (404 if running is None else 200)
            if running is None:
                self.expect(self.model)
                return
            stopped = stored()[running]
            assert stopped.ended_at is not None and stopped.duration_seconds == int(
                (stopped.ended_at - stopped.started_at).total_seconds()) >= 0
            self.expect({**self.model, running: replace(
                self.model[running], ended_at=stopped.ended_at,
                duration_seconds=stopped.duration_seconds)})

        # -- manual entries ------------------------------------------------------------

        @rule(via=st.sampled_from(["web", "api"]), row=st.integers(0, 3), day=st.integers(0, 6),
              start_second=st.integers(0, 20 * 3600 - 1),
              seconds=st.integers(1, 4 * 3600) | st.sampled_from([1, 59, 61, 3599, 3601, 1800]),
              billable=st.sampled_from([None, True, False]),
              notes=st.sampled_from([None, "Call", "Review the draft"]))
        def create_entry(self, via, row, day, start_second, seconds, billable, notes):
            target = rows[row]
            start = (datetime.combine(MONDAY + timedelta(days=day), time(), tzinfo=BERLIN)
                     + timedelta(seconds=start_second)).astimezone(timezone.utc)
            end = start + timedelta(seconds=seconds)
            if via == "web":
                response = post_form("/entries/new", {
                    "project_id": target.project_id, "task_id": target.task_id or "",
                    "started_at": local(start), "ended_at": local(end), "duration": "",
                    "notes": notes or "", "tags": "", "repeated_hour": "",
                    "billable": {None: "", True: "yes", False: "no"}[billable]})
                assert response.status_code == 302, response.get_data(as_text=True)[:300]
            else:
                response = api.post("/api/v1/time-entries", json={
                    "project_id": target.project_id, "task_id": target.task_id,
                    "started_at": start.isoformat(), "ended_at": end.isoformat(),
                    "notes": notes, **({} if billable is None else {"billable": billable})})
                assert response.status_code == 201, response.get_data(as_text=True)
            (new_id, _), = self.new_entries(stored()).items()
            self.expect({**self.model, new_id: Entry(
                target.project_id, target.task_id, start, end, seconds, notes,
                target.billable if billable is None else billable)})

        @precondition(lambda self: self.finished_ids())
        @rule(data=st.data(), notes=st.sampled_from([None, "", "Edited", "Call"]))
        def edit_in_the_form(self, data, notes):
            """The edit form posted back as rendered (notes=None) or with its notes changed:
            its times are shown to the minute, yet nothing else may change."""
            entry_id = data.draw(st.sampled_from(self.finished_ids()), label="entry")
            page = web.get(f"/entries/{entry_id}/edit").get_data(as_text=True)
            form = rendered_form(page)
            if notes is not None:
                form["notes"] = notes
            response = web.post(f"/entries/{entry_id}/edit", data=form)
            assert response.status_code == 302, response.get_data(as_text=True)[:300]
            expected = dict(self.model)
            if notes is not None:
                expected[entry_id] = replace(expected[entry_id], notes=notes or None)
            self.expect(expected)

        @precondition(lambda self: self.finished_ids())
        @rule(data=st.data(), change=st.sampled_from(["notes", "billable", "length"]),
              seconds=st.integers(1, 3 * 3600))
        def edit_in_the_api(self, data, change, seconds):
            entry_id = data.draw(st.sampled_from(self.finished_ids()), label="entry")
            entry = self.model[entry_id]
            body, new = {
                "notes": ({"notes": "From the API"}, replace(entry, notes="From the API")),
                "billable": ({"billable": not entry.billable},
                             replace(entry, billable=not entry.billable)),
                "length": ({"ended_at": (entry.started_at + timedelta(seconds=seconds)).isoformat()},
                           replace(entry, ended_at=entry.started_at + timedelta(seconds=seconds),
                                   duration_seconds=seconds)),
            }[change]
            response = api.patch(f"/api/v1/time-entries/{entry_id}", json=body)
            assert response.status_code == 200, response.get_data(as_text=True)
            self.expect({**self.model, entry_id: new})

        @precondition(lambda self: self.model)
        @rule(via=st.sampled_from(["web", "api"]), data=st.data())
        def delete_entry(self, via, data):
            entry_id = data.draw(st.sampled_from(sorted(self.model)), label="entry")
            if via == "web":
                assert post_form(f"/entries/{entry_id}/delete", {}).status_code == 302
            else:
                assert api.delete(f"/api/v1/time-entries/{entry_id}").status_code == 204
            self.expect({i: e for i, e in self.model.items() if i != entry_id})

        # -- the timesheet ---------------------------------------------------------------

        @rule()
        def save_the_timesheet_untouched(self):
            form = rendered_form(web.get(f"/timesheet?week={WEEK}").get_data(as_text=True),
                                 "timesheet-form")
            response = web.post(f"/timesheet?week={WEEK}", data=form, follow_redirects=True)
            assert "Nothing to save: no cell changed." in response.get_data(as_text=True)
            self.expect(self.model)

        @rule(data=st.data(), row=st.integers(0, 3), minutes=st.integers(0, 6 * 60))
        def type_one_timesheet_cell(self, data, row, minutes):
            """One cell typed (in a row already there or one added to the page); the rest of
            the grid posted as rendered."""
            added = rows[row]
            page = web.get(f"/timesheet?week={WEEK}&row={added.project_id}-{added.task_id or 0}")
            form = rendered_form(page.get_data(as_text=True), "timesheet-form")
            cell = data.draw(st.sampled_from(sorted(n for n in form if n.startswith("cell-"))),
                             label="cell")
            project_id, task_id, day = (int(part) for part in cell.split("-")[1:])
            task_id = task_id or None
            typed = "" if minutes == 0 else f"{minutes // 60}:{minutes % 60:02d}"
            shown = form[cell]
            form[cell] = typed
            response = web.post(f"/timesheet?week={WEEK}", data=form, follow_redirects=True)

            def in_cell(entry: Entry) -> bool:
                return (not entry.running and (entry.project_id, entry.task_id) == (
                    project_id, task_id) and entry.local_day == MONDAY + timedelta(days=day))

            before = sum(e.duration_seconds for e in self.model.values() if in_cell(e))
            changed = typed.strip() != shown.strip() and minutes * 60 != before
            assert response.status_code == 200
            assert ("Saved: 1 cell changed." if changed else "Nothing to save: no cell changed."
                    ) in response.get_data(as_text=True)
            after = stored()
            outside = {i: e for i, e in after.items() if not in_cell(e)}
            assert outside == {i: e for i, e in self.model.items() if not in_cell(e)}
            if changed:
                assert sum(e.duration_seconds for e in after.values() if in_cell(e)) == minutes * 60
                self.expect(after)
            else:
                self.expect(self.model)

        # -- the invariants --------------------------------------------------------------

        @invariant()
        def at_most_one_timer_runs(self):
            with app.app_context():
                assert db.session.scalar(select(func.count()).select_from(TimeEntry).where(
                    TimeEntry.ended_at.is_(None))) <= 1

        @invariant()
        def the_weeks_totals_agree_everywhere(self):
            week = [e for e in self.model.values()
                    if not e.running and MONDAY <= e.local_day < MONDAY + timedelta(days=7)]
            seconds = sum(e.duration_seconds for e in week)
            amount = sum((amount_of(e.duration_seconds, rate_of[(e.project_id, e.task_id)])
                          for e in week
                          if e.billable and rate_of[(e.project_id, e.task_id)] is not None), ZERO)
            cells: dict[str, int] = {}
            for e in week:
                name = f"was-{e.project_id}-{e.task_id or 0}-{(e.local_day - MONDAY).days}"
                cells[name] = cells.get(name, 0) + e.duration_seconds

            sheet = rendered_form(web.get(f"/timesheet?week={WEEK}").get_data(as_text=True),
                                  "timesheet-form")
            assert {k: int(v) for k, v in sheet.items()
                    if k.startswith("was-") and int(v)} == {k: v for k, v in cells.items() if v}

            summary = api.get(f"/api/v1/reports/summary?{RANGE}&group_by=project").get_json()
            assert summary["total_seconds"] == sum(r["seconds"] for r in summary["rows"]) == seconds
            assert Decimal(summary["billable_amount"]) == amount
            assert sum((Decimal(r["billable_amount"]) for r in summary["rows"]), ZERO) == amount

            listed = api.get(f"/api/v1/time-entries?{RANGE}&per_page=100").get_json()
            assert sum(item["duration_seconds"] for item in listed["items"]) == seconds

            exported = list(csv.DictReader(io.StringIO(api.get(
                f"/api/v1/time-entries/export.csv?{RANGE}").get_data(as_text=True))))
            assert sum(int(r["duration_seconds"]) for r in exported) == seconds
            assert sum((Decimal(r["amount"]) for r in exported), ZERO) == amount

            report = web.get(f"/reports?preset=custom&{RANGE}&group_by=day").get_data(
                as_text=True)
            if week:
                chart = json.loads(re.search(
                    r'<script type="application/json" id="report-data">(.*?)</script>',
                    report, re.S).group(1))
                assert sum(chart["seconds"]) == seconds
                assert f'id="total-hours">{_hm(seconds)}<' in report
                assert f'id="billable-amount">{amount} ' in report

        @invariant()
        def the_dashboard_shows_this_weeks_time(self):
            if self.running_id() is not None:
                return  # a running timer counts up to now: its total is not a fixed number
            today = datetime.now(BERLIN).date()
            monday = today - timedelta(days=today.weekday())
            this_week = sum(e.duration_seconds for e in self.model.values()
                            if monday <= e.local_day < monday + timedelta(days=7))
            page = web.get("/").get_data(as_text=True)
            assert f'id="total-week">{_hm(this_week)}<' in page

    return WritePaths


def test_every_write_path_keeps_the_entries_and_the_totals(world):
    run_state_machine_as_test(machine_for(world), settings=MACHINE_SETTINGS)
