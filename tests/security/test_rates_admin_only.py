"""Item 5: rates (client, project, task) and billable defaults are admin-only in web and API;
ordinary users see no rates or amounts, and only their own hours."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest

from app.extensions import db
from app.models import Task, TimeEntry, User
from app.services import catalog


@pytest.fixture
def priced(ready_app, make_project):
    ids = make_project(task="Design")
    with ready_app.app_context():
        catalog.update_client(ids["client_id"], name="Acme", default_hourly_rate="91.17")
        catalog.update_project(ids["project_id"], name="Website", client_id=ids["client_id"],
                               hourly_rate="92.23")
        catalog.update_task(ids["task_id"], actor=None, name="Design", status="todo",
                            hourly_rate="93.37")
    return ids


def _task_rate(app, task_id):
    with app.app_context():
        return db.session.get(Task, task_id).hourly_rate


def test_a_user_cannot_change_a_task_rate_through_the_api(ready_app, priced, user_api, admin_api):
    for body in ({"hourly_rate": "0.01"}, {"hourly_rate": None}, {"name": "x", "hourly_rate": 5}):
        response = user_api.patch(f"/api/v1/tasks/{priced['task_id']}", json=body)
        assert response.status_code == 403, response.get_data(as_text=True)
    response = user_api.post("/api/v1/tasks", json={"project_id": priced["project_id"],
                                                    "name": "Cheap", "hourly_rate": "1"})
    assert response.status_code == 403
    assert _task_rate(ready_app, priced["task_id"]) == Decimal("93.37")
    # Renaming stays allowed and leaves the rate alone.
    assert user_api.patch(f"/api/v1/tasks/{priced['task_id']}",
                          json={"name": "Design 2"}).status_code == 200
    assert _task_rate(ready_app, priced["task_id"]) == Decimal("93.37")
    assert admin_api.patch(f"/api/v1/tasks/{priced['task_id']}",
                           json={"hourly_rate": "50"}).status_code == 200
    assert _task_rate(ready_app, priced["task_id"]) == Decimal("50.00")


def test_clients_and_projects_rates_and_billable_stay_admin_only(priced, user_api):
    assert user_api.patch(f"/api/v1/clients/{priced['client_id']}",
                          json={"default_hourly_rate": "1"}).status_code == 403
    assert user_api.patch(f"/api/v1/projects/{priced['project_id']}",
                          json={"hourly_rate": "1", "billable": False}).status_code == 403


def test_a_user_cannot_set_a_task_rate_on_the_web(ready_app, priced, user_client):
    task_id = priced["task_id"]
    page = user_client.get(f"/tasks/{task_id}/edit").get_data(as_text=True)
    assert "hourly_rate" not in page and "93.37" not in page
    response = user_client.post_form(f"/tasks/{task_id}/edit", {
        "name": "Design", "status": "todo", "hourly_rate": "0.01"},
        token_page=f"/tasks/{task_id}/edit")
    assert response.status_code == 403
    response = user_client.post_form(f"/tasks/{task_id}/edit", {"name": "Design", "status": "done"},
                                     token_page=f"/tasks/{task_id}/edit")
    assert response.status_code == 302
    assert _task_rate(ready_app, task_id) == Decimal("93.37")  # kept, not cleared
    project_id = priced["project_id"]
    response = user_client.post_form(f"/projects/{project_id}/tasks", {
        "task-name": "Cheap", "task-status": "todo", "task-hourly_rate": "1"},
        token_page=f"/projects/{project_id}")
    assert response.status_code == 403


def test_users_see_no_rates_or_amounts_anywhere(ready_app, priced, user_client, make_token,
                                                admin_client):
    """Web pages and API objects: the rates 91.17/92.23/93.37 never show for a user."""
    from tests.api.conftest import ApiClient

    user_api = ApiClient(ready_app.test_client(), make_token("alice"))
    with ready_app.app_context():
        alice = db.session.scalar(db.select(User).where(User.username == "alice"))
        start = datetime(2026, 11, 2, 9, tzinfo=timezone.utc)
        db.session.add(TimeEntry(user_id=alice.id, project_id=priced["project_id"],
                                 task_id=priced["task_id"], started_at=start,
                                 ended_at=start.replace(hour=11), duration_seconds=7200,
                                 billable=True, source="manual"))
        db.session.commit()
    rates = ("91.17", "92.23", "93.37", "186.74")  # 186.74 = 2 h x 93.37
    pages = ["/clients", "/projects", f"/projects/{priced['project_id']}",
             f"/tasks/{priced['task_id']}/edit", "/reports?start=2026-11-01&end=2026-11-30&preset=custom",
             "/reports?start=2026-11-01&end=2026-11-30&preset=custom&group_by=task"]
    for url in pages:
        text = user_client.get(url).get_data(as_text=True)
        for rate in rates:
            assert rate not in text, (url, rate)
    api = ["/api/v1/clients", f"/api/v1/clients/{priced['client_id']}", "/api/v1/projects",
           f"/api/v1/projects/{priced['project_id']}", "/api/v1/tasks",
           f"/api/v1/tasks/{priced['task_id']}",
           "/api/v1/reports/summary?start=2026-11-01&end=2026-11-30"]
    for url in api:
        response = user_api.get(url)
        assert response.status_code == 200
        for rate in rates:
            assert rate not in response.get_data(as_text=True), (url, rate)
    report = user_api.get("/api/v1/reports/summary?start=2026-11-01&end=2026-11-30").get_json()
    assert report["billable_seconds"] == 7200 and report["billable_amount"] is None
    # The admin still sees them all.
    assert "186.74" in admin_client.get(
        "/reports?start=2026-11-01&end=2026-11-30&preset=custom").get_data(as_text=True)
    assert "93.37" in admin_client.get(f"/tasks/{priced['task_id']}/edit").get_data(as_text=True)


def test_project_pages_show_a_user_only_their_own_hours(ready_app, priced, make_user,
                                                        user_client, admin_client):
    make_user("bob")
    with ready_app.app_context():
        users = {u.username: u.id for u in db.session.scalars(db.select(User))}
        for name, hours in (("alice", 1), ("bob", 5)):
            start = datetime(2026, 11, 2, 9, tzinfo=timezone.utc)
            db.session.add(TimeEntry(user_id=users[name], project_id=priced["project_id"],
                                     started_at=start, ended_at=start.replace(hour=9 + hours),
                                     duration_seconds=hours * 3600, source="manual"))
        db.session.commit()
    for url in ("/projects", f"/projects/{priced['project_id']}"):
        mine = user_client.get(url).get_data(as_text=True)
        assert "1:00" in mine and "6:00" not in mine and "5:00" not in mine, url
        assert "6:00" in admin_client.get(url).get_data(as_text=True)
