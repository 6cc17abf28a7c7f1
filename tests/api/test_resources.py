"""Every /api/v1 route: the happy path, roles, and each way a request can be refused."""

from __future__ import annotations

import csv
import io

import pytest

from .conftest import error_of


@pytest.fixture
def catalog_ids(make_project):
    return make_project("Website", "Acme", task="Design")


def test_me_describes_the_tokens_user(user_api):
    body = user_api.get("/api/v1/me").get_json()
    assert body["username"] == "alice"
    assert body["role"] == "user"
    assert body["timezone"] == "Europe/Berlin"


def test_clients_crud_as_admin(admin_api):
    created = admin_api.post("/api/v1/clients", json={"name": "Acme", "default_hourly_rate": 80})
    assert created.status_code == 201
    client = created.get_json()
    assert client["default_hourly_rate"] == "80.00"
    url = f"/api/v1/clients/{client['id']}"
    assert admin_api.get(url).get_json()["name"] == "Acme"
    patched = admin_api.patch(url, json={"name": "Acme Ltd", "archived": True}).get_json()
    assert patched["name"] == "Acme Ltd" and patched["archived"] is True
    assert patched["default_hourly_rate"] == "80.00"  # untouched fields stay
    listed = admin_api.get("/api/v1/clients").get_json()
    assert listed["total"] == 0  # archived are hidden by default
    listed = admin_api.get("/api/v1/clients?include_archived=true").get_json()
    assert [c["id"] for c in listed["items"]] == [client["id"]]
    assert admin_api.delete(url).status_code == 204
    assert admin_api.get(url).status_code == 404


def test_duplicate_client_names_conflict(admin_api):
    admin_api.post("/api/v1/clients", json={"name": "Acme"})
    response = admin_api.post("/api/v1/clients", json={"name": "acme"})
    assert response.status_code == 409
    assert error_of(response)["code"] == "conflict"


def test_a_client_with_projects_cannot_be_deleted(admin_api, catalog_ids):
    response = admin_api.delete(f"/api/v1/clients/{catalog_ids['client_id']}")
    assert response.status_code == 409


def test_pagination_reports_totals_and_pages(admin_api):
    for n in range(5):
        admin_api.post("/api/v1/clients", json={"name": f"Client {n}"})
    page = admin_api.get("/api/v1/clients?per_page=2&page=3").get_json()
    assert page["total"] == 5 and page["pages"] == 3 and page["page"] == 3
    assert [c["name"] for c in page["items"]] == ["Client 4"]
    assert admin_api.get("/api/v1/clients?per_page=2&page=9").get_json()["items"] == []


def test_projects_crud_as_admin(admin_api, catalog_ids):
    created = admin_api.post("/api/v1/projects", json={
        "name": "App", "client_id": catalog_ids["client_id"], "hourly_rate": "95.5",
        "color": "#AABBCC", "billable": False,
    })
    assert created.status_code == 201, created.get_json()
    project = created.get_json()
    assert project["hourly_rate"] == "95.50" and project["color"] == "#aabbcc"
    url = f"/api/v1/projects/{project['id']}"
    assert admin_api.patch(url, json={"billable": True}).get_json()["billable"] is True
    by_client = admin_api.get(f"/api/v1/projects?client_id={catalog_ids['client_id']}").get_json()
    assert by_client["total"] == 2
    assert admin_api.delete(url).status_code == 204
    assert admin_api.get(url).status_code == 404


def test_a_project_with_time_cannot_be_deleted(admin_api, catalog_ids):
    admin_api.post("/api/v1/timer/start", json={"project_id": catalog_ids["project_id"]})
    response = admin_api.delete(f"/api/v1/projects/{catalog_ids['project_id']}")
    assert response.status_code == 409


def test_an_unknown_client_in_a_body_is_unprocessable(admin_api):
    response = admin_api.post("/api/v1/projects", json={"name": "App", "client_id": 999})
    assert response.status_code == 422
    assert error_of(response)["field"] == "client_id"


def test_users_may_not_write_clients_or_projects(user_api, catalog_ids):
    pid, cid = catalog_ids["project_id"], catalog_ids["client_id"]
    for method, url, body in [
        ("post", "/api/v1/clients", {"name": "X"}),
        ("patch", f"/api/v1/clients/{cid}", {"name": "X"}),
        ("delete", f"/api/v1/clients/{cid}", None),
        ("post", "/api/v1/projects", {"name": "X"}),
        ("patch", f"/api/v1/projects/{pid}", {"name": "X"}),
        ("delete", f"/api/v1/projects/{pid}", None),
        ("delete", f"/api/v1/tasks/{catalog_ids['task_id']}", None),
    ]:
        kwargs = {"json": body} if body is not None else {}
        response = getattr(user_api, method)(url, **kwargs)
        assert response.status_code == 403, (method, url)
    assert user_api.get(f"/api/v1/projects/{pid}").status_code == 200


def test_tasks_crud(user_api, admin_api, catalog_ids):
    pid = catalog_ids["project_id"]
    created = user_api.post("/api/v1/tasks", json={"project_id": pid, "name": "Build"})
    assert created.status_code == 201
    task = created.get_json()
    assert task["status"] == "todo"
    url = f"/api/v1/tasks/{task['id']}"
    assert user_api.patch(url, json={"status": "done"}).get_json()["status"] == "done"
    assert user_api.patch(url, json={"status": "later"}).status_code == 400
    assert user_api.patch(url, json={"project_id": pid}).status_code == 400  # tasks stay put
    assert user_api.get(f"/api/v1/tasks?project_id={pid}").get_json()["total"] == 2
    assert user_api.get("/api/v1/tasks?status=done").get_json()["total"] == 1
    dup = user_api.post("/api/v1/tasks", json={"project_id": pid, "name": "build"})
    assert dup.status_code == 409
    assert user_api.post("/api/v1/tasks", json={"project_id": 999, "name": "X"}).status_code == 422
    assert admin_api.delete(url).status_code == 204
    assert user_api.get(url).status_code == 404


def test_time_entries_crud_and_visibility(user_api, admin_api, catalog_ids):
    pid, tid = catalog_ids["project_id"], catalog_ids["task_id"]
    created = user_api.post("/api/v1/time-entries", json={
        "project_id": pid, "task_id": tid, "started_at": "2026-11-20T09:00:00",
        "ended_at": "2026-11-20T10:30:00", "notes": "kick-off",
    })
    assert created.status_code == 201, created.get_json()
    entry = created.get_json()
    # Naive times are the user's wall clock (Europe/Berlin, UTC+1 in November).
    assert entry["started_at"] == "2026-11-20T08:00:00+00:00"
    assert entry["duration_seconds"] == 5400 and entry["running"] is False
    url = f"/api/v1/time-entries/{entry['id']}"
    patched = user_api.patch(url, json={"ended_at": "2026-11-20T11:00:00+01:00"}).get_json()
    assert patched["duration_seconds"] == 7200 and patched["task_id"] == tid
    assert user_api.get("/api/v1/time-entries?start=2026-11-20&end=2026-11-20").get_json()["total"] == 1
    assert user_api.get("/api/v1/time-entries?start=2026-11-21").get_json()["total"] == 0
    # The admin sees it and can filter by user; alice cannot look at others'.
    alice_id = user_api.get("/api/v1/me").get_json()["id"]
    assert admin_api.get(f"/api/v1/time-entries?user_id={alice_id}").get_json()["total"] == 1
    assert admin_api.get(url).status_code == 200
    response = user_api.get("/api/v1/time-entries?user_id=1")
    assert response.status_code == 403
    assert user_api.delete(url).status_code == 204
    assert user_api.get(url).status_code == 404


def test_another_users_entry_is_not_found(user_api, admin_api, catalog_ids):
    entry = admin_api.post("/api/v1/time-entries", json={
        "project_id": catalog_ids["project_id"], "started_at": "2026-11-20T09:00:00Z",
        "ended_at": "2026-11-20T10:00:00Z",
    }).get_json()
    url = f"/api/v1/time-entries/{entry['id']}"
    assert user_api.get(url).status_code == 404
    assert user_api.patch(url, json={"notes": "mine now"}).status_code == 404
    assert user_api.delete(url).status_code == 404


@pytest.mark.parametrize(
    "body, status, field",
    [
        ({"started_at": "2026-11-20T10:00:00Z", "ended_at": "2026-11-20T09:00:00Z"}, 400, "ended_at"),
        ({"started_at": "yesterday", "ended_at": "2026-11-20T09:00:00Z"}, 400, "started_at"),
        ({"started_at": "2026-11-19T00:00:00Z", "ended_at": "2026-11-20T09:00:00Z"}, 400, "confirm_long"),
        ({"started_at": "2026-11-20T08:00:00Z"}, 400, "ended_at"),
        ({"started_at": "2026-11-20T08:00:00Z", "ended_at": "2026-11-20T09:00:00Z",
          "task_id": 999}, 422, "task_id"),
    ],
)
def test_time_entry_validation(user_api, catalog_ids, body, status, field):
    response = user_api.post("/api/v1/time-entries", json={"project_id": catalog_ids["project_id"], **body})
    assert response.status_code == status, response.get_json()
    assert error_of(response)["field"] == field


def test_timer_start_conflict_and_stop(user_api, catalog_ids):
    assert user_api.get("/api/v1/timer").get_json() is None
    started = user_api.post("/api/v1/timer/start", json={"project_id": catalog_ids["project_id"],
                                                         "notes": "deep work"})
    assert started.status_code == 201
    assert started.get_json()["running"] is True
    assert user_api.get("/api/v1/timer").get_json()["id"] == started.get_json()["id"]
    again = user_api.post("/api/v1/timer/start", json={"project_id": catalog_ids["project_id"]})
    assert again.status_code == 409
    assert error_of(again)["code"] == "timer_running"
    stopped = user_api.post("/api/v1/timer/stop")
    assert stopped.status_code == 200 and stopped.get_json()["running"] is False
    nothing = user_api.post("/api/v1/timer/stop")
    assert nothing.status_code == 404
    assert error_of(nothing)["code"] == "no_timer_running"
    assert user_api.post("/api/v1/timer/start", json={}).status_code == 400
    assert user_api.post("/api/v1/timer/start", json={"project_id": 999}).status_code == 422


def _add(api, project_id, start, end, **extra):
    response = api.post("/api/v1/time-entries", json={
        "project_id": project_id, "started_at": start, "ended_at": end, **extra})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_report_summary_groups_and_says_its_timezone(user_api, admin_api, catalog_ids):
    pid = catalog_ids["project_id"]
    admin_api.patch(f"/api/v1/projects/{pid}", json={"hourly_rate": 100})
    _add(user_api, pid, "2026-11-16T23:30:00+01:00", "2026-11-17T00:30:00+01:00")
    _add(user_api, pid, "2026-11-17T09:00:00+01:00", "2026-11-17T09:45:00+01:00", billable=False)
    body = user_api.get("/api/v1/reports/summary?start=2026-11-16&end=2026-11-22&group_by=day").get_json()
    assert body["timezone"] == "Europe/Berlin"
    assert body["total_seconds"] == 3600 + 2700 and body["billable_seconds"] == 3600
    assert body["billable_amount"] is None  # amounts are for admins (issue 13, item 5)
    as_admin = admin_api.get("/api/v1/reports/summary?start=2026-11-16&end=2026-11-22").get_json()
    assert as_admin["billable_amount"] == "100.00"
    days = {row["key"]: row["seconds"] for row in body["rows"]}
    assert len(days) == 7 and days["2026-11-16"] == 3600 and days["2026-11-17"] == 2700
    by_project = user_api.get("/api/v1/reports/summary?start=2026-11-16&end=2026-11-22").get_json()
    assert [r["label"] for r in by_project["rows"]] == ["Website · Acme"]
    default = user_api.get("/api/v1/reports/summary?group_by=user").get_json()
    assert default["group_by"] == "user"  # this week by default
    assert user_api.get("/api/v1/reports/summary?user_id=1").status_code == 403


def test_export_csv_streams_the_filtered_entries(user_api, catalog_ids):
    pid = catalog_ids["project_id"]
    _add(user_api, pid, "2026-11-17T09:00:00", "2026-11-17T10:00:00", notes="=HYPERLINK(1)")
    _add(user_api, pid, "2026-11-18T09:00:00", "2026-11-18T09:30:00", notes='say "hi", then\nleave')
    response = user_api.get("/api/v1/time-entries/export.csv?start=2026-11-17&end=2026-11-17")
    assert response.status_code == 200 and response.is_streamed
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert len(rows) == 1
    assert rows[0]["notes"] == "'=HYPERLINK(1)"
    assert rows[0]["started_at"] == "2026-11-17T09:00:00+01:00"
    assert rows[0]["duration_seconds"] == "3600" and rows[0]["duration_hours"] == "1.0000"
    everything = list(csv.DictReader(io.StringIO(
        user_api.get("/api/v1/time-entries/export.csv").get_data(as_text=True))))
    assert [r["notes"] for r in everything] == ["'=HYPERLINK(1)", 'say "hi", then\nleave']
    assert user_api.get("/api/v1/time-entries/export.csv?user_id=1").status_code == 403


def test_timer_switch_is_opt_in_and_stops_the_running_one(user_api, catalog_ids):
    first = user_api.post("/api/v1/timer/start", json={"project_id": catalog_ids["project_id"]})
    assert first.status_code == 201
    refused = user_api.post("/api/v1/timer/start", json={"project_id": catalog_ids["project_id"],
                                                         "switch": False})
    assert refused.status_code == 409 and error_of(refused)["code"] == "timer_running"
    switched = user_api.post("/api/v1/timer/start", json={"project_id": catalog_ids["project_id"],
                                                          "notes": "next", "switch": True})
    assert switched.status_code == 201
    body = switched.get_json()
    assert body["running"] and body["notes"] == "next" and body["id"] != first.get_json()["id"]
    old = user_api.get(f"/api/v1/time-entries/{first.get_json()['id']}").get_json()
    assert old["running"] is False and old["ended_at"] == body["started_at"]
    bad = user_api.post("/api/v1/timer/start", json={"project_id": catalog_ids["project_id"],
                                                     "switch": "yes"})
    assert bad.status_code == 400 and error_of(bad)["field"] == "switch"


def test_tags_through_the_api(user_api, catalog_ids):
    body = {"project_id": catalog_ids["project_id"], "started_at": "2026-03-02T09:00:00+00:00",
            "ended_at": "2026-03-02T10:00:00+00:00", "tags": ["meeting", "Remote"]}
    created = user_api.post("/api/v1/time-entries", json=body)
    assert created.status_code == 201 and created.get_json()["tags"] == ["meeting", "Remote"]
    entry_id = created.get_json()["id"]
    other = user_api.post("/api/v1/time-entries", json={**body, "tags": ["REMOTE"]})
    assert other.get_json()["tags"] == ["Remote"]  # the existing tag, whatever the case
    tags = user_api.get("/api/v1/tags").get_json()
    assert [t["name"] for t in tags] == ["meeting", "Remote"]
    meeting = next(t["id"] for t in tags if t["name"] == "meeting")

    listed = user_api.get(f"/api/v1/time-entries?tag_id={meeting}").get_json()
    assert [e["id"] for e in listed["items"]] == [entry_id]
    report = user_api.get("/api/v1/reports/summary?start=2026-03-02&end=2026-03-02"
                          "&group_by=tag").get_json()
    assert {r["label"]: r["seconds"] for r in report["rows"]} == {"Remote": 7200, "meeting": 3600}
    assert report["total_seconds"] == 7200
    csv_text = user_api.get(f"/api/v1/time-entries/export.csv?tag_id={meeting}").get_data(
        as_text=True)
    assert csv_text.splitlines()[0].endswith(",tags") and "meeting; Remote" in csv_text

    patched = user_api.patch(f"/api/v1/time-entries/{entry_id}", json={"tags": []})
    assert patched.status_code == 200 and patched.get_json()["tags"] == []
    kept = user_api.patch(f"/api/v1/time-entries/{entry_id}", json={"notes": "x"})
    assert kept.get_json()["tags"] == []
    bad = user_api.post("/api/v1/time-entries", json={**body, "tags": [1, 2]})
    assert bad.status_code == 400 and error_of(bad)["field"] == "tags"
    long = user_api.post("/api/v1/time-entries", json={**body, "tags": ["x" * 51]})
    assert long.status_code == 400 and error_of(long)["field"] == "tags"
