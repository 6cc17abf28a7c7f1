"""Item 1: one validation of times and ranges for web forms and the API (years 1970-2999),
and no 500 after a time-zone conversion, for the author or an admin in another zone."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from app.extensions import db
from app.models import TimeEntry
from tests.conftest import count_rows, login, USER_PASSWORD, form_refused


@pytest.fixture
def bob_in_tokyo_with_project(ready_app, make_user, make_project):
    make_user("bob", timezone="Asia/Tokyo")
    return make_project()["project_id"]


@pytest.mark.parametrize("started, ended", [
    ("0001-01-01T00:30", "0001-01-01T01:30"),      # the review's stored denial of service
    ("9999-12-31T22:00", "9999-12-31T23:30"),      # overflows after conversion (zone east)
    ("1969-12-31T23:00", "1970-01-01T00:30"),
    ("3000-01-01T00:00", "3000-01-01T01:00"),
])
def test_web_form_refuses_years_outside_1970_2999_without_a_500(
        ready_app, bob_in_tokyo_with_project, started, ended):
    client = ready_app.test_client()
    assert login(client, "bob", USER_PASSWORD).status_code == 302
    response = client.post_form("/entries/new", {
        "project_id": bob_in_tokyo_with_project, "started_at": started, "ended_at": ended,
        "notes": "x"}, token_page="/entries/new")
    assert form_refused(response, "must be between 1970 and 2999")
    assert count_rows(ready_app, TimeEntry) == 0


@pytest.mark.parametrize("started, ended", [
    ("0001-01-01T00:30:00", "0001-01-01T01:30:00"),
    ("2999-12-31T23:00:00-05:00", "2999-12-31T23:30:00-05:00"),  # 3000 in UTC
    ("1970-01-01T00:30:00+09:00", "1970-01-01T01:30:00+09:00"),  # 1969 in UTC
])
def test_api_applies_the_same_range_before_and_after_conversion(
        ready_app, bob_in_tokyo_with_project, make_token, started, ended):
    from tests.api.conftest import ApiClient, error_of

    api = ApiClient(ready_app.test_client(), make_token("bob"))
    response = api.post("/api/v1/time-entries", json={
        "project_id": bob_in_tokyo_with_project, "started_at": started, "ended_at": ended})
    assert response.status_code == 400
    assert error_of(response)["field"] == "started_at"
    assert count_rows(ready_app, TimeEntry) == 0


def test_an_old_year_one_row_no_longer_breaks_lists_and_exports_for_an_admin_west_of_utc(
        ready_app, admin_client, make_user, make_project, make_token):
    """A row stored before the check existed (year 1) is shown in UTC instead of a 500."""
    from app.models import User

    make_user("bob", timezone="UTC")
    project_id = make_project()["project_id"]
    with ready_app.app_context():
        admin = db.session.scalar(db.select(User).where(User.username == "admin"))
        admin.timezone = "America/New_York"
        bob = db.session.scalar(db.select(User).where(User.username == "bob"))
        start = datetime(1, 1, 1, 0, 30, tzinfo=timezone.utc)
        db.session.add(TimeEntry(user_id=bob.id, project_id=project_id, started_at=start,
                                 ended_at=start.replace(hour=1), duration_seconds=1800,
                                 notes="old", source="manual"))
        db.session.commit()
    assert admin_client.get("/entries").status_code == 200
    csv_web = admin_client.get("/reports/export.csv")
    assert csv_web.status_code == 200 and "0001-01-01T00:30:00+00:00" in csv_web.get_data(as_text=True)
    from tests.api.conftest import ApiClient

    api = ApiClient(ready_app.test_client(), make_token("admin"))
    csv_api = api.get("/api/v1/time-entries/export.csv")
    assert csv_api.status_code == 200 and "0001-01-01T00:30:00+00:00" in csv_api.get_data(as_text=True)


@pytest.mark.parametrize("query", ["start=0001-01-01", "end=0001-01-01", "start=9999-12-31"])
def test_list_filters_out_of_range_answer_4xx_or_a_message_never_500(
        ready_app, admin_client, admin_api, query):
    page = admin_client.get(f"/entries?{query}")
    assert page.status_code == 200
    assert "must be between 1970-01-01 and 2999-12-31" in page.get_data(as_text=True)
    assert admin_api.get(f"/api/v1/time-entries?{query}").status_code == 400
    assert admin_api.get(f"/api/v1/reports/summary?{query}").status_code == 400
    assert admin_client.get(f"/reports?{query}").status_code == 200
    assert admin_client.get(f"/reports/export.csv?{query}").status_code == 400
