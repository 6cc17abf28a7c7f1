"""Item 8: inputs that gave a 500 get a 4xx with a message; a database that is down gives 503."""

from __future__ import annotations

import pytest

from app.models import TimeEntry
from tests.api.conftest import error_of
from tests.conftest import ADMIN_PASSWORD, count_rows

HUGE = str(2**63 + 1)


@pytest.mark.parametrize("url", [
    "/entries?page=1e20", f"/entries?page={HUGE}", "/entries?page=-3",
    f"/entries?user_id={HUGE}", f"/entries?project_id={HUGE}", f"/entries?client_id={2**31}",
    "/entries?start=0001-01-01", "/entries?end=9999-12-31",
    f"/reports?user_id={HUGE}", f"/reports?project_id={2**31}",
])
def test_huge_numbers_and_dates_in_web_query_strings_are_not_500(admin_client, url):
    assert admin_client.get(url).status_code == 200


@pytest.mark.parametrize("path", [f"/admin/users/{HUGE}", f"/admin/users/{2**31}",
                                  f"/entries/{2**31}/edit", f"/projects/{HUGE}",
                                  f"/tasks/{2**31}/edit", f"/clients/{2**31}/edit"])
def test_huge_ids_in_web_paths_are_404(admin_client, path):
    assert admin_client.get(path).status_code == 404


@pytest.mark.parametrize("url, status", [
    # A number no query parameter can be is bad input; an id no row can have is not found.
    (f"/api/v1/time-entries?page={HUGE}", 400), (f"/api/v1/time-entries?user_id={HUGE}", 400),
    ("/api/v1/time-entries?start=0001-01-01", 400),
    (f"/api/v1/time-entries/{2**31}", 404), (f"/api/v1/clients/{HUGE}", 404),
])
def test_huge_numbers_in_api_requests_are_4xx_json(admin_api, url, status):
    response = admin_api.get(url)
    assert response.status_code == status
    assert error_of(response)["message"]


@pytest.mark.parametrize("next_url", ["/%0a", "/%0d%0aSet-Cookie:x=1", "/\\evil.example",
                                      "%0a/entries", "/entries%00"])
def test_next_with_control_characters_falls_back_to_the_dashboard(ready_app, next_url):
    client = ready_app.test_client()
    token = client.csrf_token("/login")
    response = client.post(f"/login?next={next_url}", data={
        "username": "admin", "password": ADMIN_PASSWORD, "csrf_token": token})
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_a_good_next_still_works(ready_app):
    client = ready_app.test_client()
    response = client.post("/login?next=/entries%3Fpage%3D2", data={
        "username": "admin", "password": ADMIN_PASSWORD, "csrf_token": client.csrf_token("/login")})
    assert response.headers["Location"] == "/entries?page=2"


def test_deep_json_and_lone_surrogates_are_400_and_write_nothing(ready_app, admin_api, make_project):
    project_id = make_project()["project_id"]
    deep = b'{"notes": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    response = admin_api.client.post("/api/v1/time-entries", data=deep, headers={
        "Authorization": f"Bearer {admin_api.token}", "Content-Type": "application/json"})
    assert response.status_code == 400 and error_of(response)["code"] == "invalid_json"
    body = ('{"project_id": %d, "started_at": "2026-11-02T09:00:00", '
            '"ended_at": "2026-11-02T10:00:00", "notes": "a\\ud800b"}' % project_id)
    response = admin_api.client.post("/api/v1/time-entries", data=body, headers={
        "Authorization": f"Bearer {admin_api.token}", "Content-Type": "application/json"})
    assert response.status_code == 400 and error_of(response)["field"] == "notes"
    response = admin_api.post("/api/v1/clients", json={"name": "\ud83d"})
    assert response.status_code == 400
    assert count_rows(ready_app, TimeEntry) == 0


def test_a_database_that_is_down_answers_503_on_pages_and_api(app_factory):
    """Nothing listens on port 1: every query fails to connect."""
    app = app_factory(SQLALCHEMY_DATABASE_URI="postgresql+psycopg://postgres@127.0.0.1:1/none",
                      SQLALCHEMY_ENGINE_OPTIONS={"connect_args": {"connect_timeout": 2},
                                                 "hide_parameters": True})
    client = app.test_client()
    page = client.get("/")
    assert page.status_code == 503, page.get_data(as_text=True)[:300]
    assert "database cannot be reached" in page.get_data(as_text=True)
    assert page.headers["Retry-After"]
    api = client.get("/api/v1/me", headers={"Authorization": "Bearer tt_whatever"})
    assert api.status_code == 503 and error_of(api)["code"] == "database_unavailable"
    assert client.get("/readyz").status_code == 503
