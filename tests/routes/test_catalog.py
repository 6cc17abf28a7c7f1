"""Clients, projects and tasks through the web UI."""

from __future__ import annotations

from decimal import Decimal

import pytest

from app.extensions import db
from app.models import Client, Project, Task
from tests.conftest import count_rows, form_refused


def test_admin_creates_client_project_and_task(admin_client):
    app = admin_client.application
    assert admin_client.post_form("/clients/new", {"name": "Acme", "default_hourly_rate": "90"}).status_code == 302
    with app.app_context():
        client_id = db.session.query(Client).one().id
    response = admin_client.post_form(
        "/projects/new",
        {"name": "Website", "client_id": str(client_id), "billable": "y", "hourly_rate": "120.5",
         "color": "#FF8800"},
    )
    assert response.status_code == 302
    with app.app_context():
        project = db.session.query(Project).one()
        assert (project.client_id, project.hourly_rate, project.color) == (
            client_id, Decimal("120.50"), "#ff8800",
        )
    assert admin_client.post_form(
        f"/projects/{project.id}/tasks", {"task-name": "Design", "task-status": "todo"}
    ).status_code == 302
    page = admin_client.get(f"/projects/{project.id}").get_data(as_text=True)
    assert "Design" in page and "Acme" in page


@pytest.mark.parametrize("name", ["", "   "])
def test_empty_client_name_is_refused_and_nothing_written(admin_client, name):
    response = admin_client.post_form("/clients/new", {"name": name})
    assert form_refused(response, "is required")
    assert count_rows(admin_client.application, Client) == 0


@pytest.mark.parametrize(
    "data, message",
    [
        ({"name": ""}, "This field is required."),
        ({"name": "P", "hourly_rate": "lots"}, "Rate must be a number."),
        ({"name": "P", "hourly_rate": "-5"}, "Rate must be zero or more."),
        ({"name": "P", "color": "red"}, "Colour must look like #1a2b3c."),
        ({"name": "P", "client_id": "999"}, "Client not found."),
    ],
)
def test_bad_project_input_is_refused_and_nothing_written(admin_client, data, message):
    response = admin_client.post_form("/projects/new", data)
    assert form_refused(response, message)
    assert count_rows(admin_client.application, Project) == 0


def test_duplicate_client_names_are_refused_case_insensitively(admin_client):
    admin_client.post_form("/clients/new", {"name": "Acme"})
    response = admin_client.post_form("/clients/new", {"name": "ACME"})
    assert form_refused(response, "already exists")
    assert count_rows(admin_client.application, Client) == 1


def test_users_add_tasks_but_empty_task_names_are_refused(user_client, make_project):
    ids = make_project()
    assert form_refused(user_client.post_form(
        f"/projects/{ids['project_id']}/tasks", {"task-name": "", "task-status": "todo"}
    ), "This field is required.")
    assert count_rows(user_client.application, Task) == 0
    assert user_client.post_form(
        f"/projects/{ids['project_id']}/tasks", {"task-name": "Review", "task-status": "todo"}
    ).status_code == 302
    assert count_rows(user_client.application, Task) == 1


def test_archived_projects_disappear_from_the_list(admin_client, make_project):
    ids = make_project(name="Old site")
    admin_client.post_form(
        f"/projects/{ids['project_id']}/edit",
        {"name": "Old site", "client_id": str(ids["client_id"]), "color": "#3b82f6", "archived": "y"},
    )
    assert "Old site" not in admin_client.get("/projects").get_data(as_text=True)
    assert "Old site" in admin_client.get("/projects?archived=1").get_data(as_text=True)


def test_unknown_ids_answer_404(admin_client):
    for path in ["/projects/999", "/projects/999/edit", "/clients/999/edit", "/tasks/999/edit"]:
        assert admin_client.get(path).status_code == 404
