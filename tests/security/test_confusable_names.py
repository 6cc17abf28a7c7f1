"""Item 12 (and issue 20): fullwidth, zero-width, case and look-alike (TR39 confusable)
variants of a name count as the same name."""

from __future__ import annotations

import pytest

from app.models import Client, Project, Task
from app.services.validation import name_key
from tests.conftest import count_rows

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


@pytest.mark.parametrize("variant", ["Ａｃｍｅ", "ACME", "Acme\u200b", *LOOK_ALIKES])
def test_clients_projects_and_tasks_refuse_a_variant_web_and_api(ready_app, admin_api,
                                                                 admin_client, variant):
    assert admin_api.post("/api/v1/clients", json={"name": "Acme"}).status_code == 201
    response = admin_api.post("/api/v1/clients", json={"name": variant})
    assert response.status_code == 409, response.get_data(as_text=True)
    page = admin_client.post_form("/clients/new", {"name": variant}, token_page="/clients/new")
    assert page.status_code == 200 and "already exists" in page.get_data(as_text=True)
    assert count_rows(ready_app, Client) == 1
    project = admin_api.post("/api/v1/projects", json={"name": "Acme"}).get_json()
    assert admin_api.post("/api/v1/projects", json={"name": variant}).status_code == 409
    assert count_rows(ready_app, Project) == 1
    assert admin_api.post("/api/v1/tasks", json={"project_id": project["id"],
                                                 "name": "Acme"}).status_code == 201
    assert admin_api.post("/api/v1/tasks", json={"project_id": project["id"],
                                                 "name": variant}).status_code == 409
    assert count_rows(ready_app, Task) == 1
