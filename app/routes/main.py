"""The dashboard and the timer controls."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from ..services import catalog, entries, timer
from ..services.errors import ServiceError
from ..services.validation import zone
from ._helpers import FORM_INVALID, attach_error, project_choices, task_choices, task_project_map
from .forms import RunningTimerForm, TimerStartForm
from .template_helpers import format_duration

bp = Blueprint("main", __name__)


def _timer_forms() -> tuple[TimerStartForm, RunningTimerForm, list]:
    projects = catalog.list_projects()
    form = TimerStartForm(prefix="timer")
    edit = RunningTimerForm(prefix="running")
    for f in (form, edit):
        f.project_id.choices = project_choices(projects)
        f.task_id.choices = task_choices(projects)
    return form, edit, projects


@bp.get("/")
@login_required
def dashboard():
    form, edit, projects = _timer_forms()
    # The timer form starts where the user left off: the last project and task used.
    form.project_id.data, form.task_id.data = timer.last_used(current_user)
    return _render_dashboard(form, edit, projects)


def _render_dashboard(form, edit, projects, status: int = 200, edit_open: bool = False):
    running = timer.running_entry(current_user)
    if running is not None and not edit_open:
        edit.project_id.data, edit.task_id.data = running.project_id, running.task_id or 0
        edit.notes.data = running.notes
        edit.started_at.data = running.started_at.astimezone(
            zone(current_user.timezone)).replace(tzinfo=None)
    return (
        render_template(
            "dashboard.html",
            form=form,
            edit=edit,
            edit_open=edit_open,
            running=running,
            totals=entries.totals_for(current_user),
            recent=entries.recent_entries(current_user),
            task_project=task_project_map(projects),
            has_projects=bool(projects),
        ),
        status,
    )


@bp.post("/timer/start")
@login_required
def start_timer():
    form, edit, projects = _timer_forms()
    if not form.validate_on_submit():
        return _render_dashboard(form, edit, projects, FORM_INVALID)
    if not form.project_id.data:
        form.project_id.errors.append("Choose a project.")
        return _render_dashboard(form, edit, projects, FORM_INVALID)
    try:
        timer.start_timer(
            current_user, project_id=form.project_id.data, task_id=form.task_id.data,
            notes=form.notes.data, switch=form.switch.data,
        )
    except timer.TimerAlreadyRunning as exc:
        flash(exc.message, "error")
        return redirect(url_for("main.dashboard"))
    except ServiceError as exc:
        flash(exc.message, "error")
        return _render_dashboard(form, edit, projects, FORM_INVALID)
    flash("Switched timers." if form.switch.data else "Timer started.", "success")
    return redirect(url_for("main.dashboard"))


@bp.post("/timer/running")
@login_required
def update_running_timer():
    form, edit, projects = _timer_forms()
    if edit.validate_on_submit():
        running = timer.running_entry(current_user)
        try:
            # The form shows the start to the minute: posted back as shown, it keeps its seconds.
            started_at = entries.as_stored_if_shown(
                edit.started_at.data, running.started_at if running else None,
                current_user.timezone)
            timer.update_running(
                current_user, project_id=edit.project_id.data, task_id=edit.task_id.data,
                notes=edit.notes.data, started_at=started_at,
            )
        except timer.NoTimerRunning as exc:
            flash(exc.message, "info")
            return redirect(url_for("main.dashboard"))
        except ServiceError as exc:
            attach_error(edit, exc)
        else:
            flash("Running timer updated.", "success")
            return redirect(url_for("main.dashboard"))
    return _render_dashboard(form, edit, projects, FORM_INVALID, edit_open=True)


@bp.post("/timer/stop")
@login_required
def stop_timer():
    try:
        entry = timer.stop_timer(current_user)
    except timer.NoTimerRunning as exc:
        # A second click or a stale tab: nothing to stop, nothing lost.
        flash(exc.message, "info")
    else:
        recorded = format_duration(entry.duration_seconds, current_user.hours_format)
        flash(f"Timer stopped: {recorded} recorded.", "success")
    return redirect(url_for("main.dashboard"))


@bp.post("/timer/restart/<int:entry_id>")
@login_required
def restart_timer(entry_id: int):
    switch = request.form.get("switch") == "1"
    try:
        timer.restart_entry(current_user, entry_id, switch=switch)
    except ServiceError as exc:
        flash(exc.message, "error")
    else:
        flash("Switched timers." if switch else "Timer started.", "success")
    return redirect(url_for("main.dashboard"))
