"""One date-range rule for the timesheet and the entry forms (API: tests/api/test_date_range.py).

An entry may end at most 366 days ahead (validation.check_end); the timesheet opens only
the weeks an entry may lie in, and books time done: no day to come, no more of today
than has passed.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from app.extensions import db
from app.models import TimeEntry
from app.models.types import utcnow
from app.services import timesheet
from app.services.validation import TOO_FAR_AHEAD


def _count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(TimeEntry.id)))


def _post_cell(client, week: str, project_id: int, day: int, typed: str):
    cell = f"{project_id}-0-{day}"
    return client.post_form(f"/timesheet?week={week}",
                            {f"cell-{cell}": typed, f"was-{cell}": "0", f"shown-{cell}": ""},
                            token_page="/timesheet")


def test_a_timesheet_cell_for_tomorrow_is_refused(ready_app, user_client, make_project):
    pid = make_project("Alpha", "C1")["project_id"]
    tomorrow = utcnow().date() + timedelta(days=1)  # alice's zone is UTC
    response = _post_cell(user_client, timesheet.week_label(tomorrow), pid, tomorrow.weekday(),
                          "1:00")
    assert response.status_code == 200
    assert timesheet.FUTURE_DAY in response.get_data(as_text=True)
    assert _count(ready_app) == 0


def test_a_timesheet_cell_for_today_must_end_by_now(ready_app, user_client, make_project):
    """24:00 today would end tomorrow at midnight, in the future: refused, nothing written."""
    pid = make_project("Alpha", "C1")["project_id"]
    today = utcnow().date()
    response = _post_cell(user_client, timesheet.week_label(today), pid, today.weekday(), "24:00")
    assert response.status_code == 200
    assert "That would end after now" in response.get_data(as_text=True)
    assert _count(ready_app) == 0


def test_a_week_no_entry_could_be_in_is_refused_on_view_and_on_save(
        ready_app, user_client, make_project):
    pid = make_project("Alpha", "C1")["project_id"]
    page = user_client.get("/timesheet?week=2999-W52")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "That week is out of range: weeks 1970-W02 to " in html
    assert "Timesheet <span class=\"muted\">2999-W52" not in html  # the current week instead
    saved = _post_cell(user_client, "2999-W52", pid, 0, "1:00")
    assert saved.status_code == 302 and saved.headers["Location"].endswith("/timesheet")
    assert _count(ready_app) == 0


def test_the_entry_form_refuses_an_end_more_than_366_days_ahead(
        ready_app, user_client, make_project):
    pid = make_project("Alpha", "C1")["project_id"]
    start = (utcnow() + timedelta(days=367)).strftime("%Y-%m-%dT%H:%M")
    end = (utcnow() + timedelta(days=367, hours=1)).strftime("%Y-%m-%dT%H:%M")
    response = user_client.post_form("/entries/new", {
        "project_id": str(pid), "task_id": "0", "started_at": start, "ended_at": end,
        "billable": ""}, token_page="/entries/new")
    assert response.status_code == 200
    assert TOO_FAR_AHEAD in response.get_data(as_text=True)
    assert _count(ready_app) == 0
