"""The dashboard, the timer buttons and the entries pages, through HTTP."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import TimeEntry
from tests.conftest import count_rows, form_refused


def _entry_form(project, start="2026-02-03T09:00", end="2026-02-03T10:30", **extra):
    data = {"project_id": str(project), "task_id": "0", "started_at": start, "ended_at": end,
            "notes": "weekly sync", "billable": "y"}
    data.update(extra)
    return data


def test_dashboard_start_and_double_stop(user_client, make_project):
    ids = make_project(task="Design")
    page = user_client.get("/").get_data(as_text=True)
    assert "Start timer" in page and "Design" in page
    response = user_client.post_form(
        "/timer/start", {"timer-project_id": str(ids["project_id"]), "timer-task_id": str(ids["task_id"]),
                         "timer-notes": "mockups"},
    )
    assert response.status_code == 302
    page = user_client.get("/").get_data(as_text=True)
    assert 'id="timer-clock"' in page and "mockups" in page
    # A second start (second tab) is refused with a message and changes nothing.
    again = user_client.post_form("/timer/start", {"timer-project_id": str(ids["project_id"])},
                                  follow_redirects=True)
    assert "already running" in again.get_data(as_text=True)
    assert count_rows(user_client.application, TimeEntry) == 1
    assert "Timer stopped" in user_client.post_form("/timer/stop", follow_redirects=True).get_data(as_text=True)
    # A double click on stop: nothing to stop, nothing lost.
    assert "No timer is running." in user_client.post_form("/timer/stop", follow_redirects=True).get_data(as_text=True)
    with user_client.application.app_context():
        entry = db.session.scalars(select(TimeEntry)).one()
        assert entry.ended_at is not None and entry.duration_seconds is not None


def test_start_without_a_project_is_refused(user_client, make_project):
    make_project()
    response = user_client.post_form("/timer/start", {"timer-project_id": "0"})
    assert form_refused(response, "Choose a project.")
    assert count_rows(user_client.application, TimeEntry) == 0


def test_start_with_an_unknown_project_is_refused(user_client, make_project):
    make_project()
    response = user_client.post_form("/timer/start", {"timer-project_id": "4242"})
    assert form_refused(response, "Project not found.")
    assert count_rows(user_client.application, TimeEntry) == 0


def test_manual_entry_shows_on_the_list_in_the_users_zone(user_client, make_project):
    ids = make_project()
    response = user_client.post_form("/entries/new", _entry_form(ids["project_id"]),
                                     token_page="/entries/new")
    assert response.status_code == 302
    page = user_client.get("/entries").get_data(as_text=True)
    assert "2026-02-03 09:00" in page and "1:30" in page and "weekly sync" in page


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"ended_at": "2026-02-03T08:00"}, "End must be after start."),
        ({"ended_at": ""}, "Enter an end or a duration."),
        ({"started_at": "yesterday-ish"}, "Not a valid datetime value."),
        ({"ended_at": "2026-02-05T10:00"}, "longer than 24 hours"),
        ({"project_id": "0"}, "Choose a project."),
        ({"project_id": "31337"}, "Project not found."),
        ({"notes": "x" * 5001}, "5000"),
    ],
)
def test_bad_manual_entries_are_refused_and_nothing_written(user_client, make_project, overrides,
                                                            message):
    ids = make_project()
    response = user_client.post_form("/entries/new", _entry_form(ids["project_id"], **overrides),
                                     token_page="/entries/new")
    assert form_refused(response, message)
    assert count_rows(user_client.application, TimeEntry) == 0


def test_users_cannot_see_edit_or_delete_each_others_entries(ready_app, user_client, make_user,
                                                             make_project):
    from tests.conftest import USER_PASSWORD, login

    ids = make_project()
    user_client.post_form("/entries/new", _entry_form(ids["project_id"]), token_page="/entries/new")
    with ready_app.app_context():
        entry_id = db.session.scalars(select(TimeEntry.id)).one()
    make_user("mallory")
    mallory = ready_app.test_client()
    login(mallory, "mallory", USER_PASSWORD)
    assert "weekly sync" not in mallory.get("/entries").get_data(as_text=True)
    assert mallory.get(f"/entries/{entry_id}/edit").status_code == 404
    assert mallory.post_form(f"/entries/{entry_id}/delete").status_code == 404
    assert mallory.post_form(f"/entries/{entry_id}/edit", _entry_form(ids["project_id"], notes="pwned"),
                             token_page="/entries/new").status_code == 404
    with ready_app.app_context():
        assert db.session.get(TimeEntry, entry_id).notes == "weekly sync"


def test_edit_and_delete_own_entry(user_client, make_project):
    ids = make_project()
    user_client.post_form("/entries/new", _entry_form(ids["project_id"]), token_page="/entries/new")
    app = user_client.application
    with app.app_context():
        entry_id = db.session.scalars(select(TimeEntry.id)).one()
    form = user_client.get(f"/entries/{entry_id}/edit").get_data(as_text=True)
    assert 'value="2026-02-03T09:00"' in form
    response = user_client.post_form(
        f"/entries/{entry_id}/edit", _entry_form(ids["project_id"], end="2026-02-03T11:00"),
        token_page=f"/entries/{entry_id}/edit",
    )
    assert response.status_code == 302
    with app.app_context():
        assert db.session.get(TimeEntry, entry_id).duration_seconds == 2 * 3600
    assert user_client.post_form(f"/entries/{entry_id}/delete").status_code == 302
    assert count_rows(app, TimeEntry) == 0


def test_entries_list_paginates_and_admin_filters_by_user(ready_app, admin_client, make_user,
                                                          make_project):
    from datetime import datetime

    from app.models import User
    from app.services import entries

    ids = make_project()
    bob_id = make_user("bob")
    with ready_app.app_context():
        bob = db.session.get(User, bob_id)
        for i in range(30):
            entries.create_entry(bob, project_id=ids["project_id"],
                                 started_at=datetime(2026, 1, 1 + i % 28, 9), ended_at=datetime(2026, 1, 1 + i % 28, 10),
                                 notes=f"n{i}")
    first = admin_client.get(f"/entries?user_id={bob_id}").get_data(as_text=True)
    assert "30 entries · page 1 of 2" in first
    second = admin_client.get(f"/entries?user_id={bob_id}&page=2").get_data(as_text=True)
    assert "page 2 of 2" in second
    assert "0 entries" not in admin_client.get(f"/entries?user_id={bob_id}&start=2026-01-05&end=2026-01-05").get_data(as_text=True)
    assert "No entries match" in admin_client.get("/entries?user_id=1").get_data(as_text=True)


def test_bad_filters_are_reported_not_fatal(user_client):
    response = user_client.get("/entries?start=notadate&page=abc")
    assert response.status_code == 200
    assert "filters were not understood" in response.get_data(as_text=True)


def test_dashboard_shows_todays_total_and_restart(user_client, make_project):
    ids = make_project()
    user_client.post_form("/timer/start", {"timer-project_id": str(ids["project_id"])})
    user_client.post_form("/timer/stop")
    page = user_client.get("/").get_data(as_text=True)
    assert 'id="total-today"' in page and "Restart" in page
    with user_client.application.app_context():
        entry_id = db.session.scalars(select(TimeEntry.id)).one()
    assert user_client.post_form(f"/timer/restart/{entry_id}").status_code == 302
    assert 'id="timer-clock"' in user_client.get("/").get_data(as_text=True)


def test_old_entries_on_an_archived_project_stay_editable(user_client, make_project):
    from app.services import catalog

    ids = make_project(name="Legacy")
    user_client.post_form("/entries/new", _entry_form(ids["project_id"]), token_page="/entries/new")
    app = user_client.application
    with app.app_context():
        entry_id = db.session.scalars(select(TimeEntry.id)).one()
        catalog.update_project(ids["project_id"], name="Legacy", client_id=ids["client_id"],
                               archived=True)
    form = user_client.get(f"/entries/{entry_id}/edit").get_data(as_text=True)
    assert "Legacy" in form
    response = user_client.post_form(
        f"/entries/{entry_id}/edit", _entry_form(ids["project_id"], notes="corrected"),
        token_page=f"/entries/{entry_id}/edit",
    )
    assert response.status_code == 302
    with app.app_context():
        assert db.session.get(TimeEntry, entry_id).notes == "corrected"
