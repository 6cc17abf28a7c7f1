"""Forms that show a rounded value and post it back: what the user did not touch stays as stored.

Each test reads the page as a browser would (every field with the value it rendered),
changes at most one field, and posts the whole form back.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from app.extensions import db
from app.models import TimeEntry
from app.services import api_tokens
from app.services.users import find_by_username

from ..api.conftest import ApiClient
from ..support.forms import rendered_form

UTC = timezone.utc
WEEK = "2026-W13"  # Monday 23 March 2026, in the past


def _book(app, user_id, project_id, start: datetime, seconds: int, notes=None) -> int:
    with app.app_context():
        entry = TimeEntry(user_id=user_id, project_id=project_id, started_at=start,
                          ended_at=start + timedelta(seconds=seconds), duration_seconds=seconds,
                          notes=notes, billable=True, source="timer")
        db.session.add(entry)
        db.session.commit()
        return entry.id


def _stored(app):
    with app.app_context():
        return [(e.id, e.started_at, e.ended_at, e.duration_seconds, e.notes)
                for e in db.session.scalars(select(TimeEntry).order_by(TimeEntry.id))]


def _alice(app):
    from app.models import User

    with app.app_context():
        return db.session.scalar(select(User.id).where(User.username == "alice"))


def test_typing_one_timesheet_cell_leaves_every_other_entry_as_it_was(
        ready_app, user_client, make_project):
    """The issue's data loss: a 2-second timer entry shows 0:00; saving another cell
    must not delete it, nor trim the leftover seconds of another cell."""
    ids = make_project("Alpha", "C1")
    alice = _alice(ready_app)
    two_seconds = _book(ready_app, alice, ids["project_id"],
                        datetime(2026, 3, 23, 9, 0, 5, tzinfo=UTC), 2, notes="the 2-second entry")
    odd = _book(ready_app, alice, ids["project_id"], datetime(2026, 3, 24, 9, 0, 0, tzinfo=UTC),
                3600 + 37)  # 1:00 and 37 seconds
    before = _stored(ready_app)
    page = user_client.get(f"/timesheet?week={WEEK}").get_data(as_text=True)
    form = rendered_form(page, "timesheet-form")
    pid = ids["project_id"]
    assert form[f"cell-{pid}-0-0"] == "0:00" and form[f"cell-{pid}-0-1"] == "1:00"
    form[f"cell-{pid}-0-3"] = "1:30"  # Thursday, the one typed cell
    response = user_client.post(f"/timesheet?week={WEEK}", data=form, follow_redirects=True)
    assert "Saved: 1 cell changed." in response.get_data(as_text=True)
    after = _stored(ready_app)
    assert after[:2] == before  # the 2-second entry (and its note) and the 1:00:37 one, untouched
    assert [e[0] for e in after[:2]] == [two_seconds, odd]
    assert [e[3] for e in after[2:]] == [5400]


def test_a_timesheet_saved_with_nothing_typed_writes_nothing(ready_app, user_client, make_project):
    ids = make_project("Alpha", "C1")
    alice = _alice(ready_app)
    for day, seconds in ((23, 2), (24, 3600 + 59), (25, 20 * 60 + 1)):
        _book(ready_app, alice, ids["project_id"], datetime(2026, 3, day, 9, 0, 1, tzinfo=UTC),
              seconds)
    before = _stored(ready_app)
    page = user_client.get(f"/timesheet?week={WEEK}").get_data(as_text=True)
    response = user_client.post(f"/timesheet?week={WEEK}",
                                data=rendered_form(page, "timesheet-form"), follow_redirects=True)
    assert "Nothing to save: no cell changed." in response.get_data(as_text=True)
    assert _stored(ready_app) == before


def test_decimal_hours_round_trip_too(ready_app, user_client, make_project):
    """0:20 shows as 0.33 in decimal hours, which reads back as 0:19:48: still unchanged."""
    ids = make_project("Alpha", "C1")
    alice = _alice(ready_app)
    _book(ready_app, alice, ids["project_id"], datetime(2026, 3, 23, 9, tzinfo=UTC), 20 * 60)
    with ready_app.app_context():
        from app.models import User

        db.session.get(User, alice).hours_format = "decimal"
        db.session.commit()
    before = _stored(ready_app)
    page = user_client.get(f"/timesheet?week={WEEK}").get_data(as_text=True)
    form = rendered_form(page, "timesheet-form")
    assert form[f"cell-{ids['project_id']}-0-0"] == "0.33"
    response = user_client.post(f"/timesheet?week={WEEK}", data=form, follow_redirects=True)
    assert "Nothing to save: no cell changed." in response.get_data(as_text=True)
    assert _stored(ready_app) == before


def test_the_entry_edit_form_posted_back_unchanged_keeps_the_stored_seconds(
        ready_app, user_client, make_project):
    """The form shows start and end to the minute; posting them back unchanged (a note
    edited) must not move either to the whole minute."""
    ids = make_project("Alpha", "C1")
    alice = _alice(ready_app)
    entry_id = _book(ready_app, alice, ids["project_id"],
                     datetime(2026, 3, 23, 9, 0, 37, tzinfo=UTC), 3600 + 11, notes="before")
    (_, start, end, seconds, _), = _stored(ready_app)
    page = user_client.get(f"/entries/{entry_id}/edit").get_data(as_text=True)
    form = rendered_form(page)
    assert form["started_at"] == "2026-03-23T09:00" and form["ended_at"] == "2026-03-23T10:00"
    form["notes"] = "after"
    response = user_client.post(f"/entries/{entry_id}/edit", data=form)
    assert response.status_code == 302
    assert _stored(ready_app) == [(entry_id, start, end, seconds, "after")]


def test_a_short_entry_posted_back_unchanged_is_not_refused(ready_app, user_client, make_project):
    """A 2-second entry shows the same minute as start and end: saving it must not answer
    "End must be after start"."""
    ids = make_project("Alpha", "C1")
    alice = _alice(ready_app)
    entry_id = _book(ready_app, alice, ids["project_id"],
                     datetime(2026, 3, 23, 9, 0, 5, tzinfo=UTC), 2)
    page = user_client.get(f"/entries/{entry_id}/edit").get_data(as_text=True)
    form = rendered_form(page)
    form["notes"] = "kept"
    response = user_client.post(f"/entries/{entry_id}/edit", data=form)
    assert response.status_code == 302
    assert [(e[3], e[4]) for e in _stored(ready_app)] == [(2, "kept")]


def test_a_zero_second_timer_entry_takes_a_note_in_the_form_and_the_api(
        ready_app, user_client, make_project):
    """Start and stop in the same second records 0:00 (the database allows it): its note
    can still be edited, since the times it is posted with are the stored ones."""
    ids = make_project("Alpha", "C1")
    entry_id = _book(ready_app, _alice(ready_app), ids["project_id"],
                     datetime(2026, 3, 23, 9, 0, 5, tzinfo=UTC), 0)
    form = rendered_form(user_client.get(f"/entries/{entry_id}/edit").get_data(as_text=True))
    form["notes"] = "from the form"
    assert user_client.post(f"/entries/{entry_id}/edit", data=form).status_code == 302
    assert [(e[3], e[4]) for e in _stored(ready_app)] == [(0, "from the form")]
    with ready_app.app_context():
        token = api_tokens.create_token(find_by_username("alice"), "t").secret
    api = ApiClient(ready_app.test_client(), token)
    response = api.patch(f"/api/v1/time-entries/{entry_id}", json={"notes": "from the API"})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert [(e[3], e[4]) for e in _stored(ready_app)] == [(0, "from the API")]


def test_an_edited_end_is_taken_as_typed(ready_app, user_client, make_project):
    """Only an untouched time keeps its seconds: a typed end is the whole minute typed."""
    ids = make_project("Alpha", "C1")
    alice = _alice(ready_app)
    entry_id = _book(ready_app, alice, ids["project_id"],
                     datetime(2026, 3, 23, 9, 0, 37, tzinfo=UTC), 3600 + 11)
    form = rendered_form(user_client.get(f"/entries/{entry_id}/edit").get_data(as_text=True))
    form["ended_at"] = "2026-03-23T10:30"
    assert user_client.post(f"/entries/{entry_id}/edit", data=form).status_code == 302
    (_, start, end, seconds, _), = _stored(ready_app)
    assert start.replace(tzinfo=UTC) == datetime(2026, 3, 23, 9, 0, 37, tzinfo=UTC)
    assert end.replace(tzinfo=UTC) == datetime(2026, 3, 23, 10, 30, tzinfo=UTC)
    assert seconds == 5363


def test_a_form_shown_again_after_an_error_keeps_only_what_was_typed(
        ready_app, user_client, make_project):
    """The page is reloaded with errors; its untouched cells show what is stored now, so
    saving again cannot undo what another save did in between."""
    ids = make_project("Alpha", "C1")
    pid, alice = ids["project_id"], _alice(ready_app)
    _book(ready_app, alice, pid, datetime(2026, 3, 23, 9, tzinfo=UTC), 3600)
    form = rendered_form(user_client.get(f"/timesheet?week={WEEK}").get_data(as_text=True),
                         "timesheet-form")
    # Meanwhile another tab adds an hour to Monday.
    _book(ready_app, alice, pid, datetime(2026, 3, 23, 10, tzinfo=UTC), 3600)
    form[f"cell-{pid}-0-1"] = "lots"
    refused = user_client.post(f"/timesheet?week={WEEK}", data=form)
    assert refused.status_code == 200
    again = rendered_form(refused.get_data(as_text=True), "timesheet-form")
    assert again[f"cell-{pid}-0-0"] == "2:00" and again[f"cell-{pid}-0-1"] == "lots"
    again[f"cell-{pid}-0-1"] = "1:00"
    response = user_client.post(f"/timesheet?week={WEEK}", data=again, follow_redirects=True)
    assert "Saved: 1 cell changed." in response.get_data(as_text=True)
    assert [e[3] for e in _stored(ready_app)] == [3600, 3600, 3600]


def test_the_running_timer_form_posted_back_unchanged_keeps_the_start_seconds(
        ready_app, user_client, make_project):
    """The dashboard's running-timer form shows the start to the minute; saving a new note
    through it must not move the start to the whole minute."""
    from app.models.types import utcnow

    ids = make_project("Alpha", "C1")
    alice = _alice(ready_app)
    started = utcnow().replace(second=37, microsecond=0) - timedelta(hours=1)
    with ready_app.app_context():
        db.session.add(TimeEntry(user_id=alice, project_id=ids["project_id"], started_at=started,
                                 billable=True, source="timer"))
        db.session.commit()
    form = rendered_form(user_client.get("/").get_data(as_text=True), "timer-edit-form")
    assert form["running-started_at"] == started.strftime("%Y-%m-%dT%H:%M")
    form["running-notes"] = "after"
    assert user_client.post("/timer/running", data=form).status_code == 302
    ((_, start, end, _, notes),) = _stored(ready_app)
    assert (start, end, notes) == (started, None, "after")
