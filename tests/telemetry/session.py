"""A scripted session of every instrumented web action, and the PII it must never leak."""

from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from app.models import Client, Project, TimeEntry
from tests.conftest import ADMIN_PASSWORD, USER_PASSWORD, login

USERNAME = "zelda_wombat"
EMAIL = "zelda.wombat@example.org"
CLIENT_NAME = "Quuxcorp Intergalactic"
PROJECT_NAME = "Project Flamingo Nebula"
TASK_NAME = "Marmalade Refactor"
NOTES = "kumquat meeting with Dr Bartholomew"
COMPANY = "Aardvark Widgets GmbH"
TOKEN_NAME = "Nightingale laptop"

# Every string a user typed or that identifies a person; none may reach the receiver.
PII = [USERNAME, EMAIL, CLIENT_NAME, PROJECT_NAME, TASK_NAME, NOTES, COMPANY, TOKEN_NAME,
       "admin@example.org", ADMIN_PASSWORD, USER_PASSWORD, "Mozilla/5.0 (X11; Linux x86_64)",
       "wrong-password-typed", "ghost_user_typed"]

BROWSER = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
                         "Chrome/120.0 Safari/537.36"}


def run_session(app, allow_analytics_expected: bool | None = None) -> None:
    """Every instrumented web action, once: admin catalog work, a user's timer and entries,
    settings, a failed login, logout."""
    from app.services.users import create_user

    with app.app_context():
        create_user(username=USERNAME, password=USER_PASSWORD, role="user", timezone="UTC",
                    email=EMAIL)
    admin = app.test_client()
    admin.environ_base.update({"HTTP_USER_AGENT": BROWSER["User-Agent"]})
    failed = login(admin, "ghost_user_typed", "wrong-password-typed")
    assert failed.status_code == 200  # re-rendered with its error (FORM_INVALID)
    assert login(admin, "admin", ADMIN_PASSWORD).status_code == 302
    assert admin.post_form("/clients/new", {"name": CLIENT_NAME}).status_code == 302
    with app.app_context():
        client_id = db.session.scalars(select(Client.id).where(Client.name == CLIENT_NAME)).one()
    assert admin.post_form("/projects/new", {"name": PROJECT_NAME, "client_id": str(client_id),
                                             "billable": "y", "color": "#336699"}).status_code == 302
    with app.app_context():
        project_id = db.session.scalars(select(Project.id).where(Project.name == PROJECT_NAME)).one()
    assert admin.post_form(f"/projects/{project_id}/tasks",
                           {"task-name": TASK_NAME, "task-status": "todo"}).status_code == 302
    assert admin.get(f"/projects/{project_id}").status_code == 200
    settings = {"company_name": COMPANY, "default_timezone": "UTC", "currency": "EUR"}
    if allow_analytics_expected:
        settings["allow_analytics"] = "y"
    assert admin.post_form("/admin/settings", settings, token_page="/admin/settings").status_code == 302

    user = app.test_client()
    user.environ_base.update({"HTTP_USER_AGENT": BROWSER["User-Agent"]})
    assert login(user, USERNAME, USER_PASSWORD).status_code == 302
    assert user.post_form("/timer/start", {"timer-project_id": str(project_id),
                                           "timer-notes": NOTES}).status_code == 302
    assert user.post_form("/timer/stop").status_code == 302
    entry_form = {"project_id": str(project_id), "task_id": "0", "started_at": "2026-11-20T09:00",
                  "ended_at": "2026-11-20T10:30", "notes": NOTES, "billable": "y"}
    assert user.post_form("/entries/new", entry_form, token_page="/entries/new").status_code == 302
    with app.app_context():
        entry_id = db.session.scalars(
            select(TimeEntry.id).where(TimeEntry.source == "manual")).one()
    edited = dict(entry_form, ended_at="2026-11-20T11:00")
    assert user.post_form(f"/entries/{entry_id}/edit", edited,
                          token_page=f"/entries/{entry_id}/edit").status_code == 302
    assert user.get("/entries").status_code == 200
    assert user.post_form(f"/entries/{entry_id}/delete").status_code == 302
    assert user.get("/reports").status_code == 200
    assert user.get("/reports/export.csv").status_code == 200
    created = user.post_form("/profile/tokens", {"name": TOKEN_NAME}, token_page="/profile",
                             follow_redirects=True)  # post/redirect/get: shown once
    assert created.status_code == 200
    _api_session(app, project_id)
    assert user.post_form("/logout").status_code == 302
    assert admin.post_form("/logout").status_code == 302


def _api_session(app, project_id: int) -> None:
    """The same actions through the REST API with a personal token (source=api)."""
    from app.services import api_tokens
    from app.services.users import find_by_username

    with app.app_context():
        secret = api_tokens.create_token(find_by_username(USERNAME), "api " + TOKEN_NAME).secret
    api = app.test_client()
    headers = {"Authorization": f"Bearer {secret}"}
    assert api.post("/api/v1/timer/start", json={"project_id": project_id, "notes": NOTES},
                    headers=headers).status_code == 201
    assert api.post("/api/v1/timer/stop", headers=headers).status_code == 200
    created = api.post("/api/v1/time-entries", headers=headers, json={
        "project_id": project_id, "started_at": "2026-11-21T09:00:00Z",
        "ended_at": "2026-11-21T10:00:00Z", "notes": NOTES})
    assert created.status_code == 201, created.get_json()
    entry_id = created.get_json()["id"]
    assert api.patch(f"/api/v1/time-entries/{entry_id}", headers=headers,
                     json={"ended_at": "2026-11-21T10:30:00Z"}).status_code == 200
    assert api.get("/api/v1/reports/summary", headers=headers).status_code == 200
    assert api.get("/api/v1/time-entries/export.csv", headers=headers).status_code == 200
    assert api.delete(f"/api/v1/time-entries/{entry_id}", headers=headers).status_code == 204
