"""The dashboard and the timer controls."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_login import current_user, login_required

from ..services import catalog, entries, timer
from ..services.errors import ServiceError
from ..telemetry import track_event
from ._helpers import FORM_INVALID, project_choices, task_choices, task_project_map
from .forms import TimerStartForm
from .template_helpers import format_duration

bp = Blueprint("main", __name__)


def _timer_form() -> tuple[TimerStartForm, list]:
    projects = catalog.list_projects()
    form = TimerStartForm(prefix="timer")
    form.project_id.choices = project_choices(projects)
    form.task_id.choices = task_choices(projects)
    return form, projects


@bp.get("/")
@login_required
def dashboard():
    form, projects = _timer_form()
    return _render_dashboard(form, projects)


def _render_dashboard(form, projects, status: int = 200):
    return (
        render_template(
            "dashboard.html",
            form=form,
            running=timer.running_entry(current_user),
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
    form, projects = _timer_form()
    if not form.validate_on_submit():
        return _render_dashboard(form, projects, FORM_INVALID)
    if not form.project_id.data:
        form.project_id.errors.append("Choose a project.")
        return _render_dashboard(form, projects, FORM_INVALID)
    try:
        timer.start_timer(
            current_user, project_id=form.project_id.data, task_id=form.task_id.data,
            notes=form.notes.data,
        )
    except timer.TimerAlreadyRunning as exc:
        flash(exc.message, "error")
        return redirect(url_for("main.dashboard"))
    except ServiceError as exc:
        flash(exc.message, "error")
        return _render_dashboard(form, projects, FORM_INVALID)
    track_event("timer.started", {"has_task": bool(form.task_id.data)})
    flash("Timer started.", "success")
    return redirect(url_for("main.dashboard"))


@bp.post("/timer/stop")
@login_required
def stop_timer():
    try:
        entry = timer.stop_timer(current_user)
    except timer.NoTimerRunning as exc:
        # A second click or a stale tab: nothing to stop, nothing lost.
        flash(exc.message, "info")
    else:
        track_event("timer.stopped", {"duration_seconds": entry.duration_seconds})
        recorded = format_duration(entry.duration_seconds, current_user.hours_format)
        flash(f"Timer stopped: {recorded} recorded.", "success")
    return redirect(url_for("main.dashboard"))


@bp.post("/timer/restart/<int:entry_id>")
@login_required
def restart_timer(entry_id: int):
    try:
        timer.restart_entry(current_user, entry_id)
    except ServiceError as exc:
        flash(exc.message, "error")
    else:
        flash("Timer started.", "success")
    return redirect(url_for("main.dashboard"))
