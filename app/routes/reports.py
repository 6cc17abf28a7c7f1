"""The reports page and the CSV export of time entries (web, session-authenticated)."""

from __future__ import annotations

from datetime import date, datetime, timezone

from flask import Blueprint, abort, render_template, request
from flask_login import current_user, login_required

from ..services import catalog, exports, reports
from ..services import tags as tag_service
from ..services import users as user_service
from ..services.errors import ServiceError
from ..services.settings import get_settings
from ..services.validation import zone
from ..telemetry.flags import get_feature_flag
from .api.entries import csv_response

bp = Blueprint("reports", __name__, url_prefix="/reports")


@bp.before_request
def _reports_page_flag():
    """The ``reports_page`` feature flag (Admin → Settings): off, both views are gone."""
    if not get_feature_flag(current_user, "reports_page"):
        abort(404)

PRESETS = {"this_week": "This week", "last_week": "Last week", "this_month": "This month",
           "last_month": "Last month", "custom": "Custom"}


def _int(name: str) -> int | None:
    value = request.args.get(name, type=int)
    return value if value and 0 < value < 2**31 else None


def _date(name: str) -> date | None:
    try:
        return date.fromisoformat(request.args.get(name) or "")
    except ValueError:
        return None


def _entry_filters(start: date | None, end: date | None) -> reports.ReportFilters:
    billable = {"yes": True, "no": False}.get(request.args.get("billable", ""))
    return reports.ReportFilters(
        start=start, end=end, client_id=_int("client_id"), project_id=_int("project_id"),
        task_id=_int("task_id"), user_id=_int("user_id") if current_user.is_admin else None,
        billable=billable, tag_id=_int("tag_id"),
    )


def filters_from_args() -> tuple[reports.ReportFilters, str]:
    """The page's query string as report filters; unreadable values are ignored.

    A preset wins over explicit dates unless it is "custom" (or missing and
    both dates are given).
    """
    preset = request.args.get("preset") or ""
    start, end = _date("start"), _date("end")
    if preset not in PRESETS or (preset == "custom" and (start is None or end is None)):
        preset = "custom" if start and end else "this_week"
    if preset != "custom":
        today = datetime.now(timezone.utc).astimezone(zone(current_user.timezone)).date()
        start, end = reports.preset_range(preset, today)
    return _entry_filters(start, end), preset


@bp.get("")
@login_required
def index():
    filters, preset = filters_from_args()
    group_by = request.args.get("group_by") or "project"
    if group_by not in reports.GROUPINGS:
        group_by = "project"
    error = None
    try:
        report = reports.summary(current_user, filters, group_by)
    except ServiceError as exc:
        # The user's range stays in the form, with the error next to it; no other
        # period is shown in its place.
        report, error = None, exc
    projects = catalog.list_projects(include_archived=True)
    return render_template(
        "reports/index.html", report=report, error=error, filters=filters, preset=preset,
        presets=PRESETS, groupings=reports.GROUPINGS_BY_NAME.values(),
        grouping=reports.GROUPINGS_BY_NAME[group_by], projects=projects,
        clients=catalog.list_clients(include_archived=True), tags=tag_service.list_tags(),
        users=user_service.list_users() if current_user.is_admin else [],
        currency=get_settings().currency,
        export_args=_export_args(filters) if report is not None else None,
    )


@bp.get("/export.csv")
@login_required
def export_csv():
    """Entries as CSV, filtered like the entries list and the reports page.

    Dates are taken literally (either may be missing: open-ended), so the
    reports page links here with its effective range, not its preset.
    """
    filters = _entry_filters(_date("start"), _date("end"))
    try:
        chunks = exports.csv_chunks(current_user, filters)
    except ServiceError:
        abort(400)
    return csv_response(chunks, exports.csv_filename(filters.start, filters.end))


def _export_args(filters: reports.ReportFilters) -> dict:
    args = {"start": filters.start.isoformat(), "end": filters.end.isoformat()}
    for name in ("client_id", "project_id", "task_id", "user_id", "tag_id"):
        if getattr(filters, name):
            args[name] = getattr(filters, name)
    if filters.billable is not None:
        args["billable"] = "yes" if filters.billable else "no"
    return args
