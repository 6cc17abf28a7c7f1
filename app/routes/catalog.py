"""Clients, projects and tasks. Admins manage clients and projects; everyone adds tasks."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from ..auth import admin_required
from ..services import catalog
from ..services.errors import Forbidden, NotFound, ServiceError
from ._helpers import FORM_INVALID, attach_error, options
from .forms import ClientForm, ProjectForm, TaskForm

bp = Blueprint("catalog", __name__)


def _task_rate(form):
    """The rate field for an admin; a user's form has none, so the rate stays as it is
    (a rate they post anyway is refused by the service)."""
    if current_user.is_admin or (form.hourly_rate.raw_data or [""])[0].strip():
        return form.hourly_rate.data
    return catalog.KEEP


def _or_404(getter, ident):
    try:
        return getter(ident)
    except NotFound:
        abort(404)


# -- clients -----------------------------------------------------------------


@bp.get("/clients")
@login_required
def clients():
    show_archived = request.args.get("archived") == "1"
    return render_template(
        "catalog/clients.html",
        clients=catalog.list_clients(include_archived=show_archived),
        show_archived=show_archived,
    )


@bp.route("/clients/new", methods=["GET", "POST"])
@admin_required
def new_client():
    return _client_form(None)


@bp.route("/clients/<int:client_id>/edit", methods=["GET", "POST"])
@admin_required
def edit_client(client_id: int):
    return _client_form(_or_404(catalog.get_client, client_id))


def _client_form(client):
    form = ClientForm(obj=client)
    if request.method == "POST":
        if form.validate_on_submit():
            fields = dict(name=form.name.data, default_hourly_rate=form.default_hourly_rate.data)
            try:
                if client is None:
                    catalog.create_client(actor=current_user, **fields)
                else:
                    catalog.update_client(client.id, archived=form.archived.data, **fields)
            except ServiceError as exc:
                attach_error(form, exc)
            else:
                flash("Client saved.", "success")
                return redirect(url_for("catalog.clients"))
        return render_template("catalog/client_form.html", form=form, client=client), FORM_INVALID
    return render_template("catalog/client_form.html", form=form, client=client)


# -- projects ----------------------------------------------------------------


@bp.get("/projects")
@login_required
def projects():
    show_archived = request.args.get("archived") == "1"
    items = catalog.list_projects(include_archived=show_archived)
    return render_template(
        "catalog/projects.html",
        projects=items,
        seconds=catalog.project_hours([p.id for p in items], current_user),
        show_archived=show_archived,
    )


@bp.route("/projects/new", methods=["GET", "POST"])
@admin_required
def new_project():
    return _project_form(None)


@bp.route("/projects/<int:project_id>/edit", methods=["GET", "POST"])
@admin_required
def edit_project(project_id: int):
    return _project_form(_or_404(catalog.get_project, project_id))


def _project_form(project):
    form = ProjectForm(obj=project)
    form.client_id.choices = options(
        ((c.id, c.name) for c in catalog.list_clients()), "— no client —"
    )
    if request.method == "GET" and project is None and request.args.get("client_id"):
        form.client_id.data = request.args.get("client_id", type=int)
    if request.method == "POST":
        if form.validate_on_submit():
            fields = dict(
                name=form.name.data, client_id=form.client_id.data, billable=form.billable.data,
                hourly_rate=form.hourly_rate.data, color=form.color.data,
            )
            try:
                if project is None:
                    project = catalog.create_project(actor=current_user, **fields)
                else:
                    catalog.update_project(project.id, archived=form.archived.data, **fields)
            except ServiceError as exc:
                attach_error(form, exc)
            else:
                flash("Project saved.", "success")
                return redirect(url_for("catalog.project_detail", project_id=project.id))
        return render_template("catalog/project_form.html", form=form, project=project), FORM_INVALID
    return render_template("catalog/project_form.html", form=form, project=project)


@bp.get("/projects/<int:project_id>")
@login_required
def project_detail(project_id: int):
    project = _or_404(catalog.get_project, project_id)
    return render_template(
        "catalog/project_detail.html", project=project, task_form=TaskForm(prefix="task"),
        seconds=catalog.project_hours([project.id], current_user).get(project.id, 0),
    )


# -- tasks -------------------------------------------------------------------


@bp.post("/projects/<int:project_id>/tasks")
@login_required
def create_task(project_id: int):
    project = _or_404(catalog.get_project, project_id)
    form = TaskForm(prefix="task")
    if form.validate_on_submit():
        try:
            catalog.create_task(
                actor=current_user, project_id=project.id, name=form.name.data,
                status=form.status.data, hourly_rate=_task_rate(form),
            )
        except Forbidden:
            abort(403)
        except ServiceError as exc:
            attach_error(form, exc)
        else:
            flash("Task added.", "success")
            return redirect(url_for("catalog.project_detail", project_id=project.id))
    return (
        render_template(
            "catalog/project_detail.html", project=project, task_form=form,
            seconds=catalog.project_hours([project.id], current_user).get(project.id, 0),
        ),
        FORM_INVALID,
    )


@bp.route("/tasks/<int:task_id>/edit", methods=["GET", "POST"])
@login_required
def edit_task(task_id: int):
    task = _or_404(catalog.get_task, task_id)
    form = TaskForm(obj=task)
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                catalog.update_task(
                    task.id, actor=current_user, name=form.name.data, status=form.status.data,
                    hourly_rate=_task_rate(form),
                )
            except Forbidden:
                abort(403)
            except ServiceError as exc:
                attach_error(form, exc)
            else:
                flash("Task saved.", "success")
                return redirect(url_for("catalog.project_detail", project_id=task.project_id))
        return render_template("catalog/task_form.html", form=form, task=task), FORM_INVALID
    return render_template("catalog/task_form.html", form=form, task=task)


