"""Issue 20, item 7: every ``next`` goes through one check, and JSON strings are checked
for lone surrogates wherever they sit in the body (the ``tags`` list included)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from app.models import Tag, TimeEntry
import importlib
import pkgutil

from app.routes import api as api_package
from app.routes._helpers import safe_next
from app.services import entries
from app.extensions import db
from app.models import User
from tests.api.conftest import error_of
from tests.conftest import count_rows

# What an attacker or a broken link puts in ?next=: CR/LF (a header), NUL, TAB, U+202E,
# a backslash host, a protocol-relative host, an absolute URL.
BAD_NEXT = ["/entries%0d%0aSet-Cookie:x=1", "/entries%0a", "/entries%00", "/entries%09x",
            "/entries%E2%80%AE", "/\\evil.example", "//evil.example/entries",
            "/entries//evil.example", "https://evil.example/entries"]
START = datetime(2026, 3, 2, 9)


@pytest.fixture
def entry_id(ready_app, make_project):
    ids = make_project()
    with ready_app.app_context():
        admin = db.session.get(User, 1)
        return entries.create_entry(admin, project_id=ids["project_id"], started_at=START,
                                    ended_at=START + timedelta(hours=1)).id


def _edit_form(ready_app, entry_id):
    with ready_app.app_context():
        entry = db.session.get(TimeEntry, entry_id)
        return {"project_id": entry.project_id, "task_id": 0, "started_at": "2026-03-02T09:00",
                "ended_at": "2026-03-02T10:30", "notes": "", "tags": "", "billable": "",
                "repeated_hour": ""}


@pytest.mark.parametrize("next_url", BAD_NEXT)
def test_entry_edit_with_a_bad_next_saves_and_goes_to_the_list(ready_app, admin_client,
                                                               entry_id, next_url):
    page = f"/entries/{entry_id}/edit?next={next_url}"
    assert admin_client.get(page).status_code == 200
    response = admin_client.post_form(page, _edit_form(ready_app, entry_id),
                                      token_page=f"/entries/{entry_id}/edit")
    assert response.status_code == 302
    assert response.headers["Location"] == "/entries"
    with ready_app.app_context():
        assert db.session.get(TimeEntry, entry_id).duration_seconds == 5400


@pytest.mark.parametrize("next_url", BAD_NEXT)
def test_entry_delete_with_a_bad_next_deletes_and_goes_to_the_list(ready_app, admin_client,
                                                                   entry_id, next_url):
    response = admin_client.post_form(f"/entries/{entry_id}/delete?next={next_url}",
                                      token_page="/entries")
    assert response.status_code == 302
    assert response.headers["Location"] == "/entries"
    assert count_rows(ready_app, TimeEntry) == 0


@pytest.mark.parametrize("next_url", BAD_NEXT)
def test_the_theme_button_with_a_bad_next_goes_to_the_dashboard(admin_client, next_url):
    from urllib.parse import unquote

    response = admin_client.post_form("/profile/theme", {"next": unquote(next_url)},
                                      token_page="/")
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_a_good_next_is_still_followed_on_every_route(ready_app, admin_client, entry_id):
    good = "/entries?page=2&project_id=1"
    response = admin_client.post_form(f"/entries/{entry_id}/edit?next=/entries%3Fpage%3D2%26project_id%3D1",
                                      _edit_form(ready_app, entry_id),
                                      token_page=f"/entries/{entry_id}/edit")
    assert response.headers["Location"] == good
    response = admin_client.post_form("/profile/theme", {"next": "/reports?x=1"}, token_page="/")
    assert response.headers["Location"] == "/reports?x=1"
    response = admin_client.post_form(f"/entries/{entry_id}/delete", {"next": good},
                                      token_page="/entries")
    assert response.headers["Location"] == good


def test_safe_next_refuses_every_control_and_invisible_character():
    for code in [*range(0, 32), 127, *range(0x80, 0xA0), 0x2028, 0x202E, 0x200B, 0xD800]:
        assert safe_next(f"/entries{chr(code)}x", under="/entries") is None, hex(code)
    assert safe_next("/reports", under="/entries") is None
    assert safe_next("/entries/é?q=ü", under="/entries") == "/entries/é?q=ü"


# -- lone surrogates anywhere in a JSON body -------------------------------------------

def _list_fields() -> set[tuple[str, str]]:
    """(module, field) of every list field in the API's body specs: the test below must
    cover each of them, so a new one cannot slip past."""
    found = set()
    for info in pkgutil.iter_modules(api_package.__path__):
        module = importlib.import_module(f"{api_package.__name__}.{info.name}")
        for name, value in vars(module).items():
            if isinstance(value, dict) and value and all(
                    isinstance(v, tuple) and len(v) == 2 for v in value.values()):
                found |= {(name, field) for field, (kind, _req) in value.items()
                          if kind.rstrip("?") == "strings"}
    return found


def test_the_list_fields_covered_here_are_all_the_api_has():
    assert _list_fields() == {("ENTRY_FIELDS", "tags"), ("ENTRY_PATCH_FIELDS", "tags")}


@pytest.mark.parametrize("surrogate", ["\ud800", "a\udfffb", "\ud83d"])
def test_a_lone_surrogate_inside_tags_is_400_on_create_and_update(ready_app, admin_api,
                                                                 entry_id, surrogate):
    with ready_app.app_context():
        project_id = db.session.get(TimeEntry, entry_id).project_id
    body = {"project_id": project_id, "started_at": "2026-03-03T09:00:00",
            "ended_at": "2026-03-03T10:00:00", "tags": ["ok", surrogate]}
    response = admin_api.post("/api/v1/time-entries", json=body)
    assert response.status_code == 400, response.get_data(as_text=True)
    assert error_of(response)["field"] == "tags"
    assert error_of(response)["message"] == "tags is not valid Unicode text."
    response = admin_api.patch(f"/api/v1/time-entries/{entry_id}", json={"tags": [surrogate]})
    assert response.status_code == 400 and error_of(response)["field"] == "tags"
    assert count_rows(ready_app, TimeEntry) == 1
    assert count_rows(ready_app, Tag) == 0


def test_a_lone_surrogate_nested_in_an_object_or_a_key_is_400(admin_api):
    response = admin_api.post("/api/v1/clients", json={"name": "Acme", "x": {"k": ["\ud800"]}})
    assert response.status_code == 400 and error_of(response)["field"] == "x"
    response = admin_api.post("/api/v1/clients", json={"name": "Acme", "\ud800": 1})
    assert response.status_code == 400
    assert error_of(response)["message"] == "A field name is not valid Unicode text."
