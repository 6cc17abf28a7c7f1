"""Item 12 (and issue 20): fullwidth, zero-width, case and look-alike (TR39 confusable)
variants of a name count as the same name, for creates and renames, on the web and in
the API (the unique indexes behind it: tests/services/test_catalog_names.py)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Client, Project, Task
from app.services import catalog
from app.services.validation import name_key
from tests.api.conftest import error_of
from tests.conftest import count_rows, form_refused

VARIANTS = ["Ａｃｍｅ", "ACME", "acme", "Acme\u200b", "A\u200dcme", "\ufeffAcme", "Acme ", "ａｃｍｅ"]
# Greek capital Alpha, Cyrillic small e, U+034F combining grapheme joiner, U+3164 Hangul
# filler: each passed the duplicate check before the TR39 skeleton.
LOOK_ALIKES = ["\u0391cme", "Acm\u0435", "Ac\u034fme", "Acme\u3164", "\u0410\u0441m\u0435"]


@pytest.mark.parametrize("variant", VARIANTS + LOOK_ALIKES)
def test_the_uniqueness_key_folds_width_case_and_invisibles(variant):
    assert name_key(variant) == name_key("Acme")


def test_distinct_names_keep_distinct_keys():
    assert name_key("Acme") != name_key("Acme 2")
    assert name_key("Straße") == name_key("STRASSE")  # casefold, not lower()
    assert name_key("Café") != name_key("Cafe")  # accents are not look-alikes
    assert name_key("Acme") != name_key("Acne")
    assert name_key("Café") == name_key("Cafe\u0301")  # one letter, two spellings


def _refused_by_api(response, message: str) -> bool:
    """A 409 whose error names the rule and the field (never a 500, never a 201)."""
    assert response.status_code == 409, response.get_data(as_text=True)
    error = error_of(response)
    assert (error["code"], error["message"], error.get("field")) == ("conflict", message, "name")
    return True


@pytest.mark.parametrize("variant", ["Ａｃｍｅ", "ACME", "Acme\u200b", *LOOK_ALIKES])
def test_clients_projects_and_tasks_refuse_a_variant_web_and_api(ready_app, admin_api,
                                                                 admin_client, variant):
    assert admin_api.post("/api/v1/clients", json={"name": "Acme"}).status_code == 201
    assert _refused_by_api(admin_api.post("/api/v1/clients", json={"name": variant}),
                           catalog.CLIENT_NAME_TAKEN)
    assert form_refused(admin_client.post_form("/clients/new", {"name": variant},
                                               token_page="/clients/new"),
                        catalog.CLIENT_NAME_TAKEN)
    assert count_rows(ready_app, Client) == 1
    # A project without a client, then one of a client: each scope refuses the variant.
    project = admin_api.post("/api/v1/projects", json={"name": "Acme"}).get_json()
    assert _refused_by_api(admin_api.post("/api/v1/projects", json={"name": variant}),
                           catalog.PROJECT_NAME_TAKEN)
    client_id = admin_api.get("/api/v1/clients").get_json()["items"][0]["id"]
    assert admin_api.post("/api/v1/projects", json={"name": "Acme",
                                                    "client_id": client_id}).status_code == 201
    assert form_refused(admin_client.post_form(
        "/projects/new", {"name": variant, "client_id": str(client_id), "color": "#3b82f6"},
        token_page="/projects/new"), catalog.PROJECT_NAME_TAKEN)
    assert count_rows(ready_app, Project) == 2
    assert admin_api.post("/api/v1/tasks", json={"project_id": project["id"],
                                                 "name": "Acme"}).status_code == 201
    assert _refused_by_api(admin_api.post("/api/v1/tasks", json={"project_id": project["id"],
                                                                 "name": variant}),
                           catalog.TASK_NAME_TAKEN)
    assert form_refused(admin_client.post_form(
        f"/projects/{project['id']}/tasks", {"task-name": variant, "task-status": "todo"},
        token_page=f"/projects/{project['id']}"), catalog.TASK_NAME_TAKEN)
    assert count_rows(ready_app, Task) == 1


def _names(app, model) -> list[str]:
    with app.app_context():
        return sorted(row.name for row in db.session.scalars(select(model)))


# Greek Alpha, U+034F, fullwidth: one of each kind of variant, for the renames.
@pytest.mark.parametrize("variant", ["\u0391cme", "Ac\u034fme", "Ａｃｍｅ"])
def test_renaming_into_a_variant_is_refused_web_and_api(ready_app, admin_api, admin_client,
                                                        variant):
    ids = {}
    for name in ["Acme", "Beta"]:
        ids[name] = admin_api.post("/api/v1/clients", json={"name": name}).get_json()["id"]
    beta = ids["Beta"]
    assert _refused_by_api(admin_api.patch(f"/api/v1/clients/{beta}", json={"name": variant}),
                           catalog.CLIENT_NAME_TAKEN)
    assert form_refused(admin_client.post_form(f"/clients/{beta}/edit", {"name": variant}),
                        catalog.CLIENT_NAME_TAKEN)
    assert _names(ready_app, Client) == ["Acme", "Beta"]

    projects = {name: admin_api.post("/api/v1/projects", json={
        "name": name, "client_id": ids["Acme"]}).get_json()["id"] for name in ["Acme", "Beta"]}
    beta = projects["Beta"]
    assert _refused_by_api(admin_api.patch(f"/api/v1/projects/{beta}", json={"name": variant}),
                           catalog.PROJECT_NAME_TAKEN)
    assert form_refused(admin_client.post_form(f"/projects/{beta}/edit", {
        "name": variant, "client_id": str(ids["Acme"]), "color": "#3b82f6"}),
        catalog.PROJECT_NAME_TAKEN)
    assert _names(ready_app, Project) == ["Acme", "Beta"]

    tasks = {name: admin_api.post("/api/v1/tasks", json={
        "project_id": projects["Acme"], "name": name}).get_json()["id"]
        for name in ["Acme", "Beta"]}
    beta = tasks["Beta"]
    assert _refused_by_api(admin_api.patch(f"/api/v1/tasks/{beta}", json={"name": variant}),
                           catalog.TASK_NAME_TAKEN)
    assert form_refused(admin_client.post_form(f"/tasks/{beta}/edit", {
        "name": variant, "status": "todo"}), catalog.TASK_NAME_TAKEN)
    assert _names(ready_app, Task) == ["Acme", "Beta"]

    # Renaming a row to another spelling of its own name is no duplicate.
    assert admin_api.patch(f"/api/v1/tasks/{beta}", json={"name": "BETA"}).status_code == 200
    assert _names(ready_app, Task) == ["Acme", "BETA"]
