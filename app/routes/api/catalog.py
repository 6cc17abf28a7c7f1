"""``/api/v1`` clients, projects and tasks. Writes to clients and projects are admin-only,
as in the web UI; any user may add and edit tasks, but only admins set a task's rate
(the service decides); deleting a task is admin-only. Ordinary users see every rate as
null (serializers.py)."""

from __future__ import annotations

from flask import jsonify, request
from sqlalchemy import select

from ...models import Client, Project, Task
from ...services import catalog
from ._core import api_user, bool_arg, bp, int_arg, json_body, page_body, paginate, require_admin
from .serializers import client_json, project_json, task_json

CLIENT_FIELDS = {"name": ("string", True), "default_hourly_rate": ("rate?", False),
                 "archived": ("boolean", False)}
PROJECT_FIELDS = {"name": ("string", True), "client_id": ("integer?", False),
                  "billable": ("boolean", False), "hourly_rate": ("rate?", False),
                  "color": ("string?", False), "archived": ("boolean", False)}
TASK_FIELDS = {"project_id": ("integer", True), "name": ("string", True),
               "status": ("string", False), "hourly_rate": ("rate?", False)}


def _optional(spec: dict) -> dict:
    """The same fields, none required: the PATCH variant of a spec."""
    return {name: (kind, False) for name, (kind, _required) in spec.items()}


def _archived_filter(query, model):
    if not bool_arg("include_archived"):
        query = query.where(model.archived.is_(False))
    return query


# -- clients ---------------------------------------------------------------------


@bp.get("/clients")
def list_clients():
    query = _archived_filter(select(Client), Client).order_by(Client.id)
    return jsonify(page_body(paginate(query), client_json))


@bp.post("/clients")
def create_client():
    require_admin()
    data = json_body(CLIENT_FIELDS)
    client = catalog.create_client(name=data["name"],
                                   default_hourly_rate=data.get("default_hourly_rate"),
                                   actor=api_user())
    if data.get("archived"):
        client = catalog.update_client(client.id, name=client.name,
                                       default_hourly_rate=client.default_hourly_rate,
                                       archived=True)
    return jsonify(client_json(client)), 201


@bp.get("/clients/<int:client_id>")
def get_client(client_id: int):
    return jsonify(client_json(catalog.get_client(client_id)))


@bp.patch("/clients/<int:client_id>")
def update_client(client_id: int):
    require_admin()
    data = json_body(_optional(CLIENT_FIELDS))
    client = catalog.get_client(client_id)
    client = catalog.update_client(
        client.id, name=data.get("name", client.name),
        default_hourly_rate=data.get("default_hourly_rate", client.default_hourly_rate),
        archived=data.get("archived", client.archived),
    )
    return jsonify(client_json(client))


@bp.delete("/clients/<int:client_id>")
def delete_client(client_id: int):
    require_admin()
    catalog.delete_client(client_id)
    return "", 204


# -- projects --------------------------------------------------------------------


@bp.get("/projects")
def list_projects():
    query = _archived_filter(select(Project), Project).order_by(Project.id)
    client_id = int_arg("client_id")
    if client_id is not None:
        query = query.where(Project.client_id == client_id)
    return jsonify(page_body(paginate(query), project_json))


@bp.post("/projects")
def create_project():
    require_admin()
    data = json_body(PROJECT_FIELDS)
    project = catalog.create_project(
        name=data["name"], client_id=data.get("client_id"), billable=data.get("billable", True),
        hourly_rate=data.get("hourly_rate"), color=data.get("color"), actor=api_user(),
    )
    if data.get("archived"):
        project = _update_project(project, {"archived": True})
    return jsonify(project_json(project)), 201


@bp.get("/projects/<int:project_id>")
def get_project(project_id: int):
    return jsonify(project_json(catalog.get_project(project_id)))


@bp.patch("/projects/<int:project_id>")
def update_project(project_id: int):
    require_admin()
    data = json_body(_optional(PROJECT_FIELDS))
    return jsonify(project_json(_update_project(catalog.get_project(project_id), data)))


def _update_project(project, data: dict):
    return catalog.update_project(
        project.id, name=data.get("name", project.name),
        client_id=data.get("client_id", project.client_id),
        billable=data.get("billable", project.billable),
        hourly_rate=data.get("hourly_rate", project.hourly_rate),
        color=data.get("color", project.color), archived=data.get("archived", project.archived),
    )


@bp.delete("/projects/<int:project_id>")
def delete_project(project_id: int):
    require_admin()
    catalog.delete_project(project_id)
    return "", 204


# -- tasks -----------------------------------------------------------------------


@bp.get("/tasks")
def list_tasks():
    query = select(Task).order_by(Task.id)
    project_id = int_arg("project_id")
    if project_id is not None:
        query = query.where(Task.project_id == project_id)
    status = request.args.get("status")
    if status is not None:
        query = query.where(Task.status == catalog.clean_status(status))
    return jsonify(page_body(paginate(query), task_json))


@bp.post("/tasks")
def create_task():
    data = json_body(TASK_FIELDS)
    task = catalog.create_task(actor=api_user(), project_id=data["project_id"], name=data["name"],
                               status=data.get("status", "todo"),
                               hourly_rate=data.get("hourly_rate", catalog.KEEP))
    return jsonify(task_json(task)), 201


@bp.get("/tasks/<int:task_id>")
def get_task(task_id: int):
    return jsonify(task_json(catalog.get_task(task_id)))


@bp.patch("/tasks/<int:task_id>")
def update_task(task_id: int):
    spec = _optional(TASK_FIELDS)
    del spec["project_id"]  # a task stays in its project
    data = json_body(spec)
    task = catalog.get_task(task_id)
    task = catalog.update_task(
        task.id, actor=api_user(), name=data.get("name", task.name),
        status=data.get("status", task.status),
        hourly_rate=data.get("hourly_rate", catalog.KEEP),  # present: admins only
    )
    return jsonify(task_json(task))


@bp.delete("/tasks/<int:task_id>")
def delete_task(task_id: int):
    require_admin()
    catalog.delete_task(task_id)
    return "", 204
