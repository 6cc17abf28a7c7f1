"""``/api/v1`` time entries, the timer, ``/me``, the summary report and the CSV export."""

from __future__ import annotations

from flask import Response, jsonify, request, stream_with_context

from ...services import entries as entry_service
from ...services import exports, reports, timer
from ...services import tags as tag_service
from ...services.settings import get_settings
from ._core import (
    ApiError, api_user, bool_arg, bp, date_arg, int_arg, json_body, page_body, paginate,
)
from .serializers import entry_json, report_json, tag_json, user_json

ENTRY_FIELDS = {"project_id": ("integer", True), "task_id": ("integer?", False),
                "started_at": ("datetime", True), "ended_at": ("datetime", True),
                "notes": ("string?", False), "billable": ("boolean", False),
                "confirm_long": ("boolean", False), "tags": ("strings", False)}
ENTRY_PATCH_FIELDS = {**{name: (kind, False) for name, (kind, _r) in ENTRY_FIELDS.items()},
                      "ended_at": ("datetime?", False)}
TIMER_START_FIELDS = {"project_id": ("integer", True), "task_id": ("integer?", False),
                      "notes": ("string?", False), "switch": ("boolean", False)}


@bp.get("/me")
def me():
    return jsonify(user_json(api_user()))


def _report_filters() -> reports.ReportFilters:
    return reports.ReportFilters(
        start=date_arg("start"), end=date_arg("end"), client_id=int_arg("client_id"),
        project_id=int_arg("project_id"), task_id=int_arg("task_id"),
        user_id=int_arg("user_id"), billable=bool_arg("billable"), tag_id=int_arg("tag_id"),
    )


# -- time entries ----------------------------------------------------------------


@bp.get("/time-entries")
def list_entries():
    user = api_user()
    user_id = int_arg("user_id")
    if user_id and user_id != user.id and not user.is_admin:
        raise ApiError(403, "Only admins can list other users' entries.", "forbidden", "user_id")
    filters = entry_service.EntryFilters(
        start=date_arg("start"), end=date_arg("end"), project_id=int_arg("project_id"),
        client_id=int_arg("client_id"), user_id=user_id, tag_id=int_arg("tag_id"),
    )
    query = entry_service.filtered_entries_query(user, filters)
    return jsonify(page_body(paginate(query), entry_json))


@bp.post("/time-entries")
def create_entry():
    data = json_body(ENTRY_FIELDS)
    entry = entry_service.create_entry(
        api_user(), project_id=data["project_id"], task_id=data.get("task_id"),
        started_at=data["started_at"], ended_at=data["ended_at"], notes=data.get("notes"),
        billable=data.get("billable"), confirm_long=data.get("confirm_long", False),
        tags=data.get("tags", []),
    )
    return jsonify(entry_json(entry)), 201


@bp.get("/time-entries/<int:entry_id>")
def get_entry(entry_id: int):
    return jsonify(entry_json(entry_service.get_entry_for(api_user(), entry_id)))


@bp.patch("/time-entries/<int:entry_id>")
def update_entry(entry_id: int):
    user = api_user()
    entry = entry_service.get_entry_for(user, entry_id)
    data = json_body(ENTRY_PATCH_FIELDS)
    project_id = data.get("project_id", entry.project_id)
    # Moving to another project drops the old task unless a new one is given.
    default_task = entry.task_id if project_id == entry.project_id else None
    entry = entry_service.update_entry(
        user, entry.id, project_id=project_id, task_id=data.get("task_id", default_task),
        started_at=data.get("started_at", entry.started_at),
        ended_at=data.get("ended_at", entry.ended_at), notes=data.get("notes", entry.notes),
        billable=data.get("billable", entry.billable),
        confirm_long=data.get("confirm_long", False), tags=data.get("tags"),
    )
    return jsonify(entry_json(entry))


@bp.delete("/time-entries/<int:entry_id>")
def delete_entry(entry_id: int):
    entry_service.delete_entry(api_user(), entry_id)
    return "", 204


@bp.get("/time-entries/export.csv")
def export_entries():
    filters = _report_filters()
    rows = exports.csv_chunks(api_user(), filters)
    return csv_response(rows, exports.csv_filename(filters.start, filters.end))


def csv_response(chunks, filename: str = "time-entries.csv") -> Response:
    """A streamed CSV download (the web export uses it too)."""
    response = Response(stream_with_context(chunks), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response


# -- tags ------------------------------------------------------------------------


@bp.get("/tags")
def list_tags():
    """Every tag, by name (tags are shared; new ones are created by naming them on an entry)."""
    return jsonify([tag_json(tag) for tag in tag_service.list_tags()])


# -- timer -----------------------------------------------------------------------


@bp.get("/timer")
def get_timer():
    entry = timer.running_entry(api_user())
    return jsonify(entry_json(entry) if entry is not None else None)


@bp.post("/timer/start")
def start_timer():
    data = json_body(TIMER_START_FIELDS)
    entry = timer.start_timer(api_user(), project_id=data["project_id"],
                              task_id=data.get("task_id"), notes=data.get("notes"),
                              switch=data.get("switch", False))
    return jsonify(entry_json(entry)), 201


@bp.post("/timer/stop")
def stop_timer():
    entry = timer.stop_timer(api_user())
    return jsonify(entry_json(entry))


# -- reports ---------------------------------------------------------------------


@bp.get("/reports/summary")
def report_summary():
    user = api_user()
    filters = reports.with_default_range(user, _report_filters())
    report = reports.summary(user, filters, request.args.get("group_by", "project"))
    return jsonify(report_json(report, get_settings().currency))
