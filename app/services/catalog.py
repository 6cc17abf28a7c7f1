"""Clients, projects and tasks: what time is booked against."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload, selectinload

from .. import events
from ..extensions import db
from ..models import TASK_STATUSES, Client, Project, Task, TimeEntry
from .errors import Conflict, Forbidden, NotFound, ValidationError, commit_or_conflict
from .validation import clean_color, clean_name, clean_rate, name_key, name_key_digest


# -- clients -----------------------------------------------------------------


def list_clients(include_archived: bool = False) -> list[Client]:
    query = select(Client).order_by(func.lower(Client.name))
    if not include_archived:
        query = query.where(Client.archived.is_(False))
    return list(db.session.scalars(query))


def get_client(client_id) -> Client:
    client = db.session.get(Client, _as_id(client_id, "client_id"))
    if client is None:
        raise NotFound("Client not found.", "client_id")
    return client


# One message per scope, for every way a name can be taken: the unique index on the
# stored key refuses the write, and the commit turns that into this Conflict.
CLIENT_NAME_TAKEN = "A client with that name already exists."
PROJECT_NAME_TAKEN = "This client already has a project with that name."
TASK_NAME_TAKEN = "This project already has a task with that name."


def _set_name(row, name: str, *, moved: bool = False) -> None:
    """Give ``row`` (a client, project or task) ``name`` and its stored key: the one place
    that writes either, for the web, the API and the CLI.

    Two names with one :func:`name_key` ("Acme", "ACME", Greek "Αcme") share a digest,
    and the unique index on ``name_key`` in the row's scope (all clients, one client's
    projects, one project's tasks) refuses the second at the commit, whatever request
    got there first; there is no lookup to race past. A row whose new name keeps the
    key of its current one, in the same scope (not ``moved``), keeps its stored key:
    a look-alike that migration 0012 found already there (its key ends in "#id") can
    still be edited or archived, but not renamed into another taken name.
    """
    if moved or row.name is None or name_key(row.name) != name_key(name):
        row.name_key = name_key_digest(name)
    row.name = name


def create_client(*, name: str, default_hourly_rate=None, actor=None) -> Client:
    """Create a client; names are unique by :func:`name_key` (case, width, invisible
    characters, look-alike letters). ``actor``: who did it."""
    name = clean_name(name)
    rate = clean_rate(default_hourly_rate, "default_hourly_rate")
    client = Client(default_hourly_rate=rate, archived=False)
    _set_name(client, name)
    db.session.add(client)
    commit_or_conflict(CLIENT_NAME_TAKEN, "name")
    events.announce(events.client_created, actor=actor, client=client)
    return client


def update_client(client_id, *, name: str, default_hourly_rate=None, archived: bool = False) -> Client:
    client = get_client(client_id)
    name = clean_name(name)
    rate = clean_rate(default_hourly_rate, "default_hourly_rate")
    _set_name(client, name)
    client.default_hourly_rate, client.archived = rate, bool(archived)
    commit_or_conflict(CLIENT_NAME_TAKEN, "name")
    return client


# -- projects ----------------------------------------------------------------


def list_projects(include_archived: bool = False) -> list[Project]:
    """Projects by name, each with its client and tasks loaded (two queries).

    Every page that lists projects shows their client, and the menus their tasks:
    loaded lazily that was one query per project (534 queries, 390 ms, on the
    dashboard with 500 projects; bench/data_scale.py).
    """
    query = (
        select(Project)
        .options(joinedload(Project.client), selectinload(Project.tasks))
        .order_by(func.lower(Project.name))
    )
    if not include_archived:
        query = query.where(Project.archived.is_(False))
    return list(db.session.scalars(query))


def get_project(project_id) -> Project:
    project = db.session.get(Project, _as_id(project_id, "project_id"))
    if project is None:
        raise NotFound("Project not found.", "project_id")
    return project


def get_bookable_project(project_id) -> Project:
    """A project time can be booked on: it exists and is not archived."""
    project = get_project(project_id)
    if project.archived:
        raise ValidationError("That project is archived.", "project_id")
    return project


def _resolve_client(client_id) -> Client | None:
    if client_id in (None, "", 0, "0"):
        return None
    client = get_client(client_id)
    return client


def create_project(
    *, name: str, client_id=None, billable: bool = True, hourly_rate=None, color: str | None = None,
    actor=None,
) -> Project:
    """Create a project, optionally for a client; names are unique per client (and among
    the projects without one) by :func:`name_key`."""
    name = clean_name(name)
    client = _resolve_client(client_id)
    rate = clean_rate(hourly_rate)
    color = clean_color(color)
    project = Project(client=client, billable=bool(billable), hourly_rate=rate, color=color,
                      archived=False)
    _set_name(project, name)
    db.session.add(project)
    commit_or_conflict(PROJECT_NAME_TAKEN, "name")
    events.announce(events.project_created, actor=actor, project=project)
    return project


def update_project(
    project_id, *, name: str, client_id=None, billable: bool = True, hourly_rate=None,
    color: str | None = None, archived: bool = False,
) -> Project:
    project = get_project(project_id)
    name = clean_name(name)
    client = _resolve_client(client_id)
    rate = clean_rate(hourly_rate)
    color = clean_color(color)
    _set_name(project, name, moved=(client.id if client else None) != project.client_id)
    project.client, project.billable = client, bool(billable)
    project.hourly_rate, project.color, project.archived = rate, color, bool(archived)
    commit_or_conflict(PROJECT_NAME_TAKEN, "name")
    return project


def project_hours(project_ids: list[int], viewer=None) -> dict[int, int]:
    """Booked seconds per project (finished entries only): everyone's for an admin,
    the viewer's own for an ordinary user (who sees only their own entries)."""
    if not project_ids:
        return {}
    query = (
        select(TimeEntry.project_id, func.coalesce(func.sum(TimeEntry.duration_seconds), 0))
        .where(TimeEntry.project_id.in_(project_ids))
        .group_by(TimeEntry.project_id)
    )
    if viewer is not None and not viewer.is_admin:
        query = query.where(TimeEntry.user_id == viewer.id)
    rows = db.session.execute(query)
    return {project_id: int(total) for project_id, total in rows}


# -- money -------------------------------------------------------------------

# "Leave the rate as it is": what a non-admin's task edit passes (the web form has no
# rate field for them; an API PATCH without "hourly_rate").
KEEP = object()


def may_see_rates(user) -> bool:
    """Rates and amounts are for admins: an ordinary user sees neither."""
    return bool(user is not None and user.is_admin)


def _check_may_set_rate(actor, field: str = "hourly_rate") -> None:
    # ``actor=None`` is a trusted caller without a user (the CLI, seed scripts, tests);
    # every route passes the signed-in user, and the argument has no default so a
    # route cannot forget it.
    if actor is not None and not may_see_rates(actor):
        raise Forbidden("Only admins set rates.", field)


# -- tasks -------------------------------------------------------------------


def get_task(task_id) -> Task:
    task = db.session.get(Task, _as_id(task_id, "task_id"))
    if task is None:
        raise NotFound("Task not found.", "task_id")
    return task


def clean_status(status: str | None) -> str:
    status = status or "todo"
    if status not in TASK_STATUSES:
        raise ValidationError("Unknown task status.", "status")
    return status


def create_task(*, actor, project_id, name: str, status: str = "todo", hourly_rate=None) -> Task:
    """Create a task in a project; names are unique per project by :func:`name_key`. Any
    user adds tasks; only an admin gives one a rate (:class:`Forbidden` otherwise)."""
    if hourly_rate not in (None, "", KEEP):
        _check_may_set_rate(actor)
    hourly_rate = None if hourly_rate is KEEP else hourly_rate
    project = get_bookable_project(project_id)
    name = clean_name(name)
    status = clean_status(status)
    rate = clean_rate(hourly_rate)
    task = Task(project=project, status=status, hourly_rate=rate)
    _set_name(task, name)
    db.session.add(task)
    commit_or_conflict(TASK_NAME_TAKEN, "name")
    events.announce(events.task_created, actor=actor, task=task)
    return task


def update_task(task_id, *, actor, name: str, status: str, hourly_rate=KEEP) -> Task:
    """Rename a task or change its status (anyone) or its rate (admins only)."""
    task = get_task(task_id)
    if hourly_rate is not KEEP:
        _check_may_set_rate(actor)
    name = clean_name(name)
    status = clean_status(status)
    rate = task.hourly_rate if hourly_rate is KEEP else clean_rate(hourly_rate)
    _set_name(task, name)
    task.status, task.hourly_rate = status, rate
    commit_or_conflict(TASK_NAME_TAKEN, "name")
    return task


def resolve_task(project: Project, task_id) -> Task | None:
    """The task for an entry: optional, and it must belong to the entry's project."""
    if task_id in (None, "", 0, "0"):
        return None
    task = get_task(task_id)
    if task.project_id != project.id:
        raise ValidationError("That task belongs to another project.", "task_id")
    return task


def _as_id(value, field: str) -> int:
    try:
        ident = int(value)
    except (TypeError, ValueError):
        raise ValidationError("Invalid id.", field) from None
    if ident <= 0 or ident > 2**31 - 1:
        raise NotFound("Not found.", field)
    return ident


# -- deletion (used by the API) ------------------------------------------------


def delete_client(client_id) -> None:
    """Delete a client that has no projects; otherwise archiving is the way."""
    client = get_client(client_id)
    if db.session.scalar(select(Project.id).where(Project.client_id == client.id).limit(1)):
        raise Conflict("This client still has projects; archive it instead.")
    db.session.delete(client)
    db.session.commit()


def delete_project(project_id) -> None:
    """Delete a project (and its tasks) that has no time booked on it."""
    project = get_project(project_id)
    if db.session.scalar(select(TimeEntry.id).where(TimeEntry.project_id == project.id).limit(1)):
        raise Conflict("Time is booked on this project; archive it instead.")
    db.session.delete(project)
    db.session.commit()


def delete_task(task_id) -> None:
    """Delete a task; entries booked on it keep their time and lose the task."""
    task = get_task(task_id)
    db.session.delete(task)
    db.session.commit()
