"""Time entries: list with filters and pagination, create, edit, delete."""

from __future__ import annotations

import dataclasses

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from ..extensions import db
from ..services import catalog, entries, tags as tag_service
from ..services import users as user_service
from ..services.errors import ServiceError
from ..services.validation import AmbiguousLocalTime, parse_duration, zone
from ..models.types import utcnow
from ._helpers import (
    FORM_INVALID, attach_error, options, project_billable_map, project_choices, task_choices,
    safe_next, task_project_map,
)
from .forms import EntryFilterForm, EntryForm

bp = Blueprint("entries", __name__, url_prefix="/entries")

PER_PAGE = 25


@bp.get("")
@login_required
def list_entries():
    form = EntryFilterForm(request.args)
    projects = catalog.list_projects(include_archived=True)
    form.project_id.choices = project_choices(projects, with_none="All projects")
    form.client_id.choices = options(
        ((c.id, c.name) for c in catalog.list_clients(include_archived=True)), "All clients"
    )
    if current_user.is_admin:
        form.user_id.choices = options(
            ((u.id, u.label) for u in user_service.list_users()), "All users"
        )
    form.tag_id.choices = options(((t.id, t.name) for t in tag_service.list_tags()), "All tags")
    if not form.validate():
        flash("Some filters were not understood and were ignored.", "error")
    filters = entries.EntryFilters(
        start=form.start.data if not form.start.errors else None,
        end=form.end.data if not form.end.errors else None,
        project_id=form.project_id.data,
        client_id=form.client_id.data,
        user_id=form.user_id.data if current_user.is_admin else None,
        tag_id=form.tag_id.data,
    )
    try:
        query = entries.filtered_entries_query(current_user, filters)
    except ServiceError as exc:  # a date out of range: say so, list without the dates
        flash(exc.message, "error")
        query = entries.filtered_entries_query(
            current_user, dataclasses.replace(filters, start=None, end=None))
    page = db.paginate(query, page=_page_number(), per_page=PER_PAGE, error_out=False)
    args = {k: v for k, v in request.args.items() if k != "page"}
    return render_template("entries/list.html", form=form, page=page, page_args=args,
                           back=request.full_path.rstrip("?"))


def _back_to_list():
    """Where to go after a change: the list as the user left it (filters, page), or the list.

    Only a path under /entries is accepted (:func:`safe_next`), so ``next`` cannot send
    anyone off-site nor break the redirect.
    """
    target = request.form.get("next") or request.args.get("next")
    return redirect(safe_next(target, under="/entries") or url_for("entries.list_entries"))


def _page_number() -> int:
    """``?page=``: a positive integer; anything else (``1e20``, 10**30, -1) is page 1.

    Flask-SQLAlchemy would pass a huge number on to OFFSET, which overflows the
    database's integer (a 500) instead of showing an empty page.
    """
    raw = request.args.get("page", "")
    return int(raw) if raw.isascii() and raw.isdigit() and 0 < int(raw) <= 1_000_000 else 1


def _entry_form(entry=None) -> tuple[EntryForm, list]:
    projects = catalog.list_projects()
    if entry is not None and entry.project.archived:
        # Editing old time on an archived project keeps that project selectable.
        projects = [entry.project, *projects]
    form = EntryForm()
    form.project_id.choices = project_choices(projects)
    form.task_id.choices = task_choices(projects)
    return form, projects


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new_entry():
    form, projects = _entry_form()
    status, ambiguous = 200, False
    if request.method == "GET":
        # Today, now, in the user's zone (to the minute below), so only the times need typing.
        form.started_at.data = utcnow().astimezone(zone(current_user.timezone)).replace(
            tzinfo=None, second=0)
    else:
        status = FORM_INVALID
        if form.validate_on_submit() and _require_end_and_project(form):
            try:
                entry = entries.create_entry(
                    current_user, project_id=form.project_id.data, task_id=form.task_id.data,
                    started_at=form.started_at.data, ended_at=form.ended_at.data,
                    duration_seconds=(None if form.ended_at.data
                                      else parse_duration(form.duration.data)),
                    notes=form.notes.data, billable=form.billable.data,
                    confirm_long=form.confirm_long.data,
                    repeated_hour=form.repeated_hour.data or None, tags=form.tags.data or "",
                )
            except ServiceError as exc:
                ambiguous = isinstance(exc, AmbiguousLocalTime)
                attach_error(form, exc)
            else:
                flash("Time entry added.", "success")
                return redirect(url_for("entries.list_entries"))
    return _render_form(form, projects, None, status, ambiguous)


@bp.route("/<int:entry_id>/edit", methods=["GET", "POST"])
@login_required
def edit_entry(entry_id: int):
    try:
        entry = entries.get_entry_for(current_user, entry_id)
    except ServiceError:
        abort(404)
    form, projects = _entry_form(entry)
    status, ambiguous = 200, False
    if request.method == "GET":
        _fill_form(form, entry)
    else:
        status = FORM_INVALID
        if form.validate_on_submit():
            try:
                # The form shows times to the minute: one posted as shown keeps its seconds.
                entry = entries.update_entry(
                    current_user, entry.id, project_id=form.project_id.data,
                    task_id=form.task_id.data,
                    started_at=entries.as_stored_if_shown(
                        form.started_at.data, entry.started_at, current_user.timezone),
                    ended_at=entries.as_stored_if_shown(
                        form.ended_at.data, entry.ended_at, current_user.timezone),
                    notes=form.notes.data,
                    billable=form.billable.data, confirm_long=form.confirm_long.data,
                    repeated_hour=form.repeated_hour.data or None, tags=form.tags.data or "",
                )
            except ServiceError as exc:
                ambiguous = isinstance(exc, AmbiguousLocalTime)
                attach_error(form, exc)
            else:
                flash("Time entry saved.", "success")
                return _back_to_list()
    return _render_form(form, projects, entry, status, ambiguous)


@bp.post("/<int:entry_id>/delete")
@login_required
def delete_entry(entry_id: int):
    try:
        entries.delete_entry(current_user, entry_id)
    except ServiceError:
        abort(404)
    flash("Time entry deleted.", "success")
    return _back_to_list()


def _require_end_and_project(form: EntryForm) -> bool:
    ok = True
    if not form.project_id.data:
        form.project_id.errors.append("Choose a project.")
        ok = False
    if form.ended_at.data is None and not (form.duration.data or "").strip():
        form.ended_at.errors = list(form.ended_at.errors) + ["Enter an end or a duration."]
        ok = False
    return ok


def _fill_form(form: EntryForm, entry) -> None:
    from ..services.validation import in_zone, zone


    tz = zone(current_user.timezone)
    form.project_id.data = entry.project_id
    form.task_id.data = entry.task_id or 0
    form.started_at.data = in_zone(entry.started_at, tz).replace(tzinfo=None)
    form.ended_at.data = in_zone(entry.ended_at, tz).replace(tzinfo=None) if entry.ended_at else None
    form.notes.data = entry.notes
    form.billable.data = entry.billable
    form.tags.data = ", ".join(tag.name for tag in entry.tags)


def _render_form(form, projects, entry, status, ambiguous: bool = False):
    return (
        render_template(
            "entries/form.html", form=form, entry=entry, task_project=task_project_map(projects),
            project_billable=project_billable_map(projects), has_projects=bool(projects),
            known_tags=tag_service.list_tags(),
            ask_repeated_hour=ambiguous or bool(form.repeated_hour.data),
            back=safe_next(request.args.get("next"), under="/entries") or "",
        ),
        status,
    )
