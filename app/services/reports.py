"""Reports: totals, billable hours and amounts, grouped in SQL.

One filter function (:func:`report_entries_filter`) serves the reports page,
the API summary and the CSV export, so the three always agree on which entries
a report covers. Sums are computed by the database (GROUP BY); Python only
multiplies the per-rate second totals by their rate, which keeps money exact
(Decimal) on SQLite, whose SUM of NUMERIC columns would be a float.

Days are the viewer's local calendar days: the range and the ``day`` grouping
both use ``viewer.timezone``, and the report carries that zone's name. An
entry belongs to the day it started on. Running timers are not included.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal

from sqlalchemy import and_, case, func, literal_column, select

from ..extensions import db
from ..models import Client, Project, Task, TimeEntry, User
from .errors import Forbidden, ValidationError
from .validation import zone

GROUPINGS = ("project", "client", "task", "user", "day")
MAX_RANGE_DAYS = 366
EARLIEST_DAY = date(1970, 1, 1)
LATEST_DAY = date(2999, 12, 31)
_CENT = Decimal("0.01")
_HOUR = Decimal(3600)


@dataclass(frozen=True)
class ReportFilters:
    """What a report (or export) covers. Dates are the viewer's local days, inclusive."""

    start: date | None = None
    end: date | None = None
    client_id: int | None = None
    project_id: int | None = None
    task_id: int | None = None
    user_id: int | None = None
    billable: bool | None = None


@dataclass(frozen=True)
class ReportRow:
    key: str  # stable id of the group: an id, "none", or an ISO date
    label: str
    seconds: int
    billable_seconds: int
    amount: Decimal
    color: str | None = None


@dataclass(frozen=True)
class Report:
    start: date
    end: date
    group_by: str
    timezone: str
    rows: list[ReportRow] = field(default_factory=list)
    total_seconds: int = 0
    billable_seconds: int = 0
    amount: Decimal = Decimal("0.00")


def check_range(start: date, end: date) -> None:
    """Refuse ranges a report cannot sensibly cover."""
    for value, name in ((start, "start"), (end, "end")):
        if not EARLIEST_DAY <= value <= LATEST_DAY:
            raise ValidationError(f"{name} must be between 1970-01-01 and 2999-12-31.", name)
    if end < start:
        raise ValidationError("end must not be before start.", "end")
    if (end - start).days + 1 > MAX_RANGE_DAYS:
        raise ValidationError(f"A report covers at most {MAX_RANGE_DAYS} days.", "end")


def day_start_utc(day: date, tz) -> datetime:
    """The UTC instant a local calendar day begins (DST-aware)."""
    return datetime.combine(day, time.min, tzinfo=tz).astimezone(timezone.utc)


def report_entries_filter(viewer: User, filters: ReportFilters) -> list:
    """WHERE clauses for the entries ``viewer`` may see that match ``filters``.

    Non-admins only ever see their own entries; asking for another user's is
    refused rather than silently ignored, so API clients notice.
    """
    clauses = []
    if viewer.is_admin:
        if filters.user_id:
            clauses.append(TimeEntry.user_id == filters.user_id)
    else:
        if filters.user_id and filters.user_id != viewer.id:
            raise Forbidden("Only admins can report on other users.", "user_id")
        clauses.append(TimeEntry.user_id == viewer.id)
    tz = zone(viewer.timezone)
    for value, name in ((filters.start, "start"), (filters.end, "end")):
        if value is not None and not EARLIEST_DAY <= value <= LATEST_DAY:
            raise ValidationError(f"{name} must be between 1970-01-01 and 2999-12-31.", name)
    if filters.start:
        clauses.append(TimeEntry.started_at >= day_start_utc(filters.start, tz))
    if filters.end:
        clauses.append(TimeEntry.started_at < day_start_utc(filters.end + timedelta(days=1), tz))
    if filters.project_id:
        clauses.append(TimeEntry.project_id == filters.project_id)
    if filters.task_id:
        clauses.append(TimeEntry.task_id == filters.task_id)
    if filters.client_id:
        clauses.append(Project.client_id == filters.client_id)
    if filters.billable is not None:
        clauses.append(TimeEntry.billable.is_(bool(filters.billable)))
    return clauses


def _day_bucket(start: date, end: date, tz):
    """A CASE that maps ``started_at`` to the index of its local day.

    Comparisons against precomputed UTC day boundaries work identically on
    SQLite (no time zone support) and PostgreSQL, and stay right across DST
    changes, where a day lasts 23 or 25 hours.
    """
    days = (end - start).days + 1
    whens = [
        (TimeEntry.started_at < day_start_utc(start + timedelta(days=i + 1), tz), literal_column(str(i)))
        for i in range(days)
    ]
    return case(*whens, else_=literal_column(str(days)))


def summary(viewer: User, filters: ReportFilters, group_by: str = "project") -> Report:
    """Totals for the filters' date range, grouped by project, client, task, user or day."""
    if group_by not in GROUPINGS:
        raise ValidationError("group_by must be one of: " + ", ".join(GROUPINGS) + ".", "group_by")
    if filters.start is None or filters.end is None:
        raise ValidationError("A report needs a start and an end date.", "start")
    check_range(filters.start, filters.end)
    tz = zone(viewer.timezone)

    rate = func.coalesce(Task.hourly_rate, Project.hourly_rate, Client.default_hourly_rate)
    if group_by == "project":
        key_cols = [Project.id, Project.name, Client.name, Project.color]
    elif group_by == "client":
        key_cols = [Client.id, Client.name]
    elif group_by == "task":
        key_cols = [Task.id, Task.name, Project.name]
    elif group_by == "user":
        key_cols = [User.id, User.username, User.display_name]
    else:
        key_cols = [_day_bucket(filters.start, filters.end, tz)]

    # The per-entry columns go in a subquery and the outer query groups by its
    # columns: PostgreSQL would not match a GROUP BY on the day CASE (whose
    # boundaries are bound parameters) with the same CASE in the SELECT.
    inner = (
        select(
            *(col.label(f"k{i}") for i, col in enumerate(key_cols)),
            TimeEntry.billable.label("billable"),
            rate.label("rate"),
            TimeEntry.duration_seconds.label("duration_seconds"),
        )
        .select_from(TimeEntry)
        .join(Project, Project.id == TimeEntry.project_id)
        .outerjoin(Client, Client.id == Project.client_id)
        .outerjoin(Task, Task.id == TimeEntry.task_id)
        .join(User, User.id == TimeEntry.user_id)
        .where(
            and_(
                TimeEntry.ended_at.is_not(None),
                *report_entries_filter(viewer, filters),
            )
        )
        .subquery()
    )
    group_cols = [inner.c[f"k{i}"] for i in range(len(key_cols))] + [inner.c.billable, inner.c.rate]
    query = select(
        *group_cols, func.coalesce(func.sum(inner.c.duration_seconds), 0)
    ).group_by(*group_cols)

    groups: dict[str, dict] = {}
    for row in db.session.execute(query):
        *keys, billable, row_rate, row_seconds = row
        key, label, color = _describe(group_by, keys, filters.start)
        group = groups.setdefault(
            key, {"label": label, "color": color, "seconds": 0, "billable": 0, "amount": Decimal(0)}
        )
        row_seconds = int(row_seconds)
        group["seconds"] += row_seconds
        if billable:
            group["billable"] += row_seconds
            if row_rate is not None:
                group["amount"] += Decimal(row_seconds) * Decimal(str(row_rate)) / _HOUR

    if group_by == "day":  # every day of the range, so the line has no gaps
        for i in range((filters.end - filters.start).days + 1):
            day = (filters.start + timedelta(days=i)).isoformat()
            groups.setdefault(
                day, {"label": day, "color": None, "seconds": 0, "billable": 0, "amount": Decimal(0)}
            )
        ordered = sorted(groups.items())
    else:
        ordered = sorted(groups.items(), key=lambda kv: (-kv[1]["seconds"], kv[1]["label"].lower()))

    rows = [
        ReportRow(
            key=key, label=g["label"], seconds=g["seconds"], billable_seconds=g["billable"],
            amount=g["amount"].quantize(_CENT), color=g["color"],
        )
        for key, g in ordered
    ]
    exact_amount = sum((g["amount"] for g in groups.values()), Decimal(0))
    return Report(
        start=filters.start, end=filters.end, group_by=group_by, timezone=str(tz.key),
        rows=rows,
        total_seconds=sum(r.seconds for r in rows),
        billable_seconds=sum(r.billable_seconds for r in rows),
        amount=exact_amount.quantize(_CENT),
    )


def _describe(group_by: str, keys: list, start: date) -> tuple[str, str, str | None]:
    """(key, label, colour) for one result row's grouping columns."""
    if group_by == "project":
        ident, name, client_name, color = keys
        return str(ident), name if client_name is None else f"{name} · {client_name}", color
    if group_by == "client":
        ident, name = keys
        if ident is None:
            return "none", "No client", None
        return str(ident), name, None
    if group_by == "task":
        ident, name, project_name = keys
        if ident is None:
            return "none", "No task", None
        return str(ident), f"{name} · {project_name}", None
    if group_by == "user":
        ident, username, display_name = keys
        return str(ident), display_name or username, None
    (index,) = keys
    day = (start + timedelta(days=int(index))).isoformat()
    return day, day, None


def preset_range(preset: str, today: date) -> tuple[date, date]:
    """Date ranges for the page's presets; weeks start on Monday."""
    monday = today - timedelta(days=today.weekday())
    if preset == "last_week":
        return monday - timedelta(days=7), monday - timedelta(days=1)
    first = today.replace(day=1)
    if preset == "this_month":
        next_first = (first + timedelta(days=32)).replace(day=1)
        return first, next_first - timedelta(days=1)
    if preset == "last_month":
        last_end = first - timedelta(days=1)
        return last_end.replace(day=1), last_end
    return monday, monday + timedelta(days=6)  # this_week, the default


def this_week(viewer: User, now: datetime | None = None) -> tuple[date, date]:
    """Monday to Sunday of the current week in the viewer's zone: the default range."""
    now = now or datetime.now(timezone.utc)
    return preset_range("this_week", now.astimezone(zone(viewer.timezone)).date())


def with_default_range(viewer: User, filters: ReportFilters) -> ReportFilters:
    """Fill a missing start or end with this week's."""
    if filters.start is not None and filters.end is not None:
        return filters
    start, end = this_week(viewer)
    return replace(filters, start=filters.start or start, end=filters.end or end)
