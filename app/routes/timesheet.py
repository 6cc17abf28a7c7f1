"""The week timesheet at /timesheet (?week=YYYY-Www)."""

from __future__ import annotations

import re
from datetime import timedelta

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from ..services import catalog, timesheet
from ..services.errors import ValidationError
from ._helpers import FORM_INVALID
from .template_helpers import format_duration

bp = Blueprint("timesheet", __name__, url_prefix="/timesheet")

_CELL = re.compile(r"^cell-(\d{1,10})-(\d{1,10})-([0-6])$")
_ROW = re.compile(r"^(\d{1,10})-(\d{1,10})$")


def _rows_from_args() -> list[timesheet.RowKey]:
    """Rows the page carries in its address (``row=PROJECT-TASK``, task 0 = none)."""
    keys = []
    for value in request.args.getlist("row"):
        if match := _ROW.match(value):
            keys.append((int(match.group(1)), int(match.group(2)) or None))
    return keys


def _monday():
    try:
        return timesheet.parse_week(request.args.get("week"), current_user), None
    except ValidationError as exc:
        return timesheet.parse_week(None, current_user), exc.message


@bp.get("")
@login_required
def week():
    monday, error = _monday()
    if error:
        flash(error, "error")
    grid = timesheet.week_grid(current_user, monday, _rows_from_args(),
                               copy_previous=request.args.get("copy") == "1")
    return _render(grid)


@bp.post("")
@login_required
def save():
    monday, error = _monday()
    if error:
        flash(error, "error")
        return redirect(url_for("timesheet.week"))
    changes = []
    for name, typed in request.form.items():
        if match := _CELL.match(name):
            project_id, task_id, day = (int(g) for g in match.groups())
            suffix = f"{project_id}-{task_id}-{day}"
            was = request.form.get(f"was-{suffix}", "")
            changes.append(timesheet.CellChange(project_id, task_id or None, day, typed,
                                                int(was) if was.isdigit() else None,
                                                shown=request.form.get(f"shown-{suffix}")))
    try:
        changed = timesheet.save_week(current_user, monday, changes)
    except timesheet.CellErrors as exc:
        flash(exc.message, "error")
        keys = [(c.project_id, c.task_id) for c in changes]
        grid = timesheet.week_grid(current_user, monday, keys)
        # Only what was typed is kept; an untouched cell shows what is stored now, so
        # saving again cannot put back a value another save has just changed.
        typed = {((c.project_id, c.task_id), c.day): c.typed for c in changes
                 if not c.untouched}
        return _render(grid, typed=typed, errors=exc.errors, status=FORM_INVALID)
    flash(f"Saved: {changed} cell{'' if changed == 1 else 's'} changed." if changed
          else "Nothing to save: no cell changed.", "success" if changed else "info")
    return redirect(url_for("timesheet.week", week=timesheet.week_label(monday)))


def _render(grid, typed=None, errors=None, status: int = 200):
    # What each cell shows for its seconds; posted back as "shown", it marks the cells
    # the user left alone (the rendering rounds, so the seconds cannot tell).
    rendered = {(row.key, i): format_duration(s, current_user.hours_format) if s else ""
                for row in grid.rows for i, s in enumerate(row.seconds)}
    values = {**rendered, **(typed or {})}
    present = {row.key for row in grid.rows}
    addable = [(p, t) for p in catalog.list_projects() for t in [None, *p.tasks]
               if (t is None or t.status != "done") and (p.id, t.id if t else None) not in present]
    return render_template(
        "timesheet.html", grid=grid, rendered=rendered, values=values, errors=errors or {},
        addable=addable,
        row_args=[f"{pid}-{tid or 0}" for pid, tid in present],
        previous=timesheet.week_label(grid.monday - timedelta(days=7)),
        following=timesheet.week_label(grid.monday + timedelta(days=7)),
    ), status
