"""Reports: totals, billable hours and amounts, grouped in SQL.

One filter function (:func:`report_entries_filter`) serves the reports page,
the API summary and the CSV export, so the three always agree on which entries
a report covers. Sums are computed by the database (GROUP BY). Money follows
:mod:`app.services.money`: each billable entry's amount is rounded half up to the
cent, in integer cents in SQL, and every figure is the exact sum of those cents,
so a total equals the sum of its rows and of the CSV's amount column.

Days are the viewer's local calendar days: the range and the ``day`` grouping
both use ``viewer.timezone``, and the report carries that zone's name. An
entry belongs to the day it started on. Running timers are not included.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any, Callable

from sqlalchemy import (
    BigInteger, Date, Integer, Interval, and_, bindparam, case, cast, func, literal, literal_column,
    select, true, type_coerce,
)
from sqlalchemy.orm import aliased
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.sql import elements

from .. import events
from ..extensions import db
from . import money
from ..models import Client, Project, Tag, Task, TimeEntry, User, time_entry_tags
from ..models.types import UTCDateTime
from .errors import Forbidden, ValidationError
from .validation import check_day, zone

_RANGE_FILTERS = ("start", "end", "billable")  # what a report on everyone may filter by
MAX_RANGE_DAYS = 366


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
    tag_id: int | None = None


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
        check_day(value, name)
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
        if value is not None:
            check_day(value, name)
    if filters.start:
        clauses.append(TimeEntry.started_at >= day_start_utc(filters.start, tz))
    if filters.end:
        clauses.append(TimeEntry.started_at < day_start_utc(filters.end + timedelta(days=1), tz))
    if filters.project_id:
        clauses.append(TimeEntry.project_id == filters.project_id)
    if filters.task_id:
        clauses.append(TimeEntry.task_id == filters.task_id)
    if filters.client_id:
        # A subquery, not Project.client_id: callers need not join projects.
        clauses.append(TimeEntry.project_id.in_(
            select(Project.id).where(Project.client_id == filters.client_id)))
    if filters.billable is not None:
        clauses.append(TimeEntry.billable.is_(bool(filters.billable)))
    if filters.tag_id:
        clauses.append(TimeEntry.id.in_(
            select(time_entry_tags.c.entry_id).where(time_entry_tags.c.tag_id == filters.tag_id)))
    return clauses


def _day_bucket(start: date, end: date, tz):
    """A CASE that maps ``started_at`` to the index of its local day (any database).

    Comparisons against precomputed UTC day boundaries work identically on
    SQLite (no time zone support) and PostgreSQL, and stay right across DST
    changes, where a day lasts 23 or 25 hours. Each row walks the WHENs, so the
    cost grows with the range: PostgreSQL uses :func:`_local_days` or
    :func:`_day_index_by_offset`.
    """
    days = (end - start).days + 1
    whens = [
        (TimeEntry.started_at < day_start_utc(start + timedelta(days=i + 1), tz), literal_column(str(i)))
        for i in range(days)
    ]
    return case(*whens, else_=literal_column(str(days)))


def _offset_changes(start: date, end: date, tz) -> list[tuple[datetime, timedelta]]:
    """(UTC instant, UTC offset from then on) for ``tz`` over the local days ``start``..``end``.

    The first item is the range's start; one more follows each DST (or other
    offset) change, found to the second by bisection between two midnights.
    """
    def offset(instant: datetime) -> timedelta:
        return instant.astimezone(tz).utcoffset()

    first = day_start_utc(start, tz)
    changes = [(first, offset(first))]
    previous = first
    for i in range(1, (end - start).days + 2):
        boundary = day_start_utc(start + timedelta(days=i), tz)
        if offset(boundary) != changes[-1][1]:
            low, high = previous, boundary  # offset(low) is the old one, offset(high) the new
            while (high - low) > timedelta(seconds=1):
                middle = low + (high - low) / 2
                low, high = (middle, high) if offset(middle) == changes[-1][1] else (low, middle)
            changes.append((high.replace(microsecond=0), offset(boundary)))
        previous = boundary
    return changes


def _day_index_by_offset(start: date, end: date, tz):
    """PostgreSQL: the index of ``started_at``'s local day, as (UTC + offset)::date - start.

    The offset is a CASE over the zone's offset changes within the range (two
    for a year with DST), so each row does a couple of comparisons and date
    arithmetic instead of walking one WHEN per day; the offsets come from the
    same zoneinfo data as :func:`day_start_utc`, so both agree on every day.
    """
    changes = _offset_changes(start, end, tz)
    offset = literal(changes[-1][1], Interval())
    if len(changes) > 1:
        offset = case(
            *((TimeEntry.started_at < changes[i + 1][0], literal(changes[i][1], Interval()))
              for i in range(len(changes) - 1)),
            else_=offset,
        )
    local_day = cast(TimeEntry.started_at + offset, Date)
    return type_coerce(local_day - literal(start, Date()), Integer())


def _local_days(start: date, end: date, tz):
    """PostgreSQL: one row per local day of the range, ``(k0, day_start, day_end)``.

    ``k0`` counts days from ``start`` (0, 1, ...); the bounds are the UTC instants the
    day begins and the next one begins, from :func:`day_start_utc`, the same ones the
    range filter and SQLite's :func:`_day_bucket` use, so a DST day lasts its 23 or
    25 hours. Two array parameters, unnested side by side.
    """
    bounds = [day_start_utc(start + timedelta(days=i), tz) for i in range((end - start).days + 2)]
    starts = bindparam("day_starts", bounds[:-1], type_=ARRAY(UTCDateTime()))
    ends = bindparam("day_ends", bounds[1:], type_=ARRAY(UTCDateTime()))
    days = func.unnest(starts, ends).table_valued(
        "day_start", "day_end", with_ordinality="n").render_derived()
    return select((days.c.n - 1).label("k0"), days.c.day_start, days.c.day_end).subquery("days")


# Marks "no rate" in the arrays of :func:`_rate_cents_by_id`: an array with a NULL in it is
# walked element by element on every subscript, one without is indexed directly. No
# NUMERIC(12, 2) rate in cents comes near it.
_NO_RATE = -(2**62)


def _rate_cents_by_id():
    """PostgreSQL: (project, task) rates in cents as two bigint[] parameters indexed by id.

    A project's rate falls back to its client's; a task's is its own or ``_NO_RATE``
    (then the entry's project rate applies), the same COALESCE the joins compute.
    Ids come from sequences, so the arrays are about as long as the tables.
    """
    def dense(pairs) -> list[int]:
        pairs = list(pairs)
        values = [_NO_RATE] * max((ident for ident, _ in pairs), default=0)
        for ident, cents in pairs:
            if cents is not None:
                values[ident - 1] = int(cents)
        return values

    projects = db.session.execute(
        select(Project.id, money.rate_cents_sql(
            func.coalesce(Project.hourly_rate, Client.default_hourly_rate)))
        .outerjoin(Client, Client.id == Project.client_id))
    tasks = db.session.execute(select(Task.id, money.rate_cents_sql(Task.hourly_rate)))
    # Grouping: PostgreSQL subscripts a cast parameter only in parentheses, ($1::BIGINT[])[i].
    return (
        elements.Grouping(bindparam("project_rate_cents", dense(projects), type_=ARRAY(BigInteger))),
        elements.Grouping(bindparam("task_rate_cents", dense(tasks), type_=ARRAY(BigInteger))),
    )


def _is_postgresql() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def _with_entry_cents(query):
    """``query`` (over ``time_entries``) and the SQL of each entry's amount in cents.

    The amount is rounded per entry (:mod:`app.services.money`), so every entry needs
    its rate (task, else project, else client) before anything is summed. PostgreSQL
    looks it up by array subscript (no join: the pass over ``time_entries`` stays an
    index-only scan of ``ix_time_entries_report``); SQLite joins the three tables by
    primary key. NULL for an entry without a rate.
    """
    if _is_postgresql():
        project_cents, task_cents = _rate_cents_by_id()
        rate_cents = func.coalesce(
            func.nullif(task_cents[TimeEntry.task_id], _NO_RATE),
            func.nullif(project_cents[TimeEntry.project_id], _NO_RATE),
        )
    else:
        # Aliases: the grouped query joins the same tables again for names.
        project, client, task = aliased(Project), aliased(Client), aliased(Task)
        query = (query.join(project, project.id == TimeEntry.project_id)
                 .outerjoin(client, client.id == project.client_id)
                 .outerjoin(task, task.id == TimeEntry.task_id))
        rate_cents = money.rate_cents_sql(entry_rate(task, project, client))
    return query, money.entry_cents(TimeEntry.duration_seconds, rate_cents)


def entry_rate(task=Task, project=Project, client=Client):
    """SQL: the hourly rate an entry bills at: its task's, else its project's, else its
    client's default (NULL: none). The report and the CSV export both use this."""
    return func.coalesce(task.hourly_rate, project.hourly_rate, client.default_hourly_rate)


def _billable_cents(entry_cents):
    """SUM of billable entries' cents: CASE, so a non-billable row never looks up a rate."""
    return func.coalesce(func.sum(case((TimeEntry.billable, entry_cents))), 0)


def _days_on_postgresql(viewer: User, filters: ReportFilters, where, tz):
    """PostgreSQL, grouped by day: rows of (day index, seconds, billable seconds,
    billable cents).

    Every entry needs its rate (day x project x task hardly reduces the rows): an array
    subscript by project and task id costs far less than three hash joins (a year of
    500,000 entries: 714 -> 308 ms in SQL), and only billable entries look it up.

    A report on everyone reads the whole range anyway, so each local day is summed
    apart, over its own slice of ``ix_time_entries_report`` (a lateral subquery per
    day: no per-row day arithmetic, no hash table of groups; a year for everyone in SQL
    ~180 -> ~80 ms). With a user, project, task, client or tag filter, a per-day plan
    repeats that filter's work 365 times (a tag filter: 0.3 -> 4.4 s), so the matching
    entries are read in one pass and bucketed by their local day's UTC offset instead.
    """
    _, entry_cents = _with_entry_cents(None)  # PostgreSQL: subscripts, no join to add
    sums = (
        func.coalesce(func.sum(TimeEntry.duration_seconds), 0).label("seconds"),
        func.coalesce(func.sum(TimeEntry.duration_seconds).filter(TimeEntry.billable),
                      0).label("billable_seconds"),
        func.coalesce(func.sum(entry_cents).filter(TimeEntry.billable), 0).label("cents"),
    )
    # Any filter but the dates and the billable flag narrows the entries (a filter added
    # later included: it takes the one pass until measured otherwise).
    narrowed = not viewer.is_admin or any(
        getattr(filters, f.name) for f in fields(filters) if f.name not in _RANGE_FILTERS)
    if narrowed:
        bucket = _day_index_by_offset(filters.start, filters.end, tz).label("k0")
        return select(bucket, *sums).where(where).group_by(bucket)
    days = _local_days(filters.start, filters.end, tz)
    per_day = (
        select(*sums)
        .where(where, TimeEntry.started_at >= days.c.day_start,
               TimeEntry.started_at < days.c.day_end)
        .lateral("per_day")
    )
    return (
        select(days.c.k0, per_day.c.seconds, per_day.c.billable_seconds, per_day.c.cents)
        .select_from(days)
        .join(per_day, true())
    )


def summary(viewer: User, filters: ReportFilters, group_by: str = "project") -> Report:
    """Totals for the filters' date range, grouped by one of :data:`GROUPINGS` (see
    :func:`_compute`); announced as a report viewed."""
    report = _compute(viewer, filters, group_by)
    events.announce(events.report_viewed, actor=viewer, report=report)
    return report


def _compute(viewer: User, filters: ReportFilters, group_by: str = "project") -> Report:
    """Totals for the filters' date range, grouped as :data:`GROUPINGS_BY_NAME` says.

    The database sums seconds and billable entries' amounts in cents (each entry
    rounded once, see :mod:`app.services.money`) per group and billable flag; every
    figure is an exact sum of those cents.
    """
    grouping = GROUPINGS_BY_NAME.get(group_by)
    if grouping is None:
        raise ValidationError("group_by must be one of: " + ", ".join(GROUPINGS) + ".", "group_by")
    if filters.start is None or filters.end is None:
        raise ValidationError("A report needs a start and an end date.", "start")
    check_range(filters.start, filters.end)
    tz = zone(viewer.timezone)
    where = and_(TimeEntry.ended_at.is_not(None), *report_entries_filter(viewer, filters))

    query, billable_apart = grouping.plan(grouping, viewer, filters, where, tz)
    groups: dict[str, dict] = {}
    for *keys, row_seconds, billable_seconds, cents in _sums(query, billable_apart):
        key, label, color = grouping.describe(keys, filters.start)
        group = groups.setdefault(
            key, {"label": label, "color": color, "seconds": 0, "billable": 0, "cents": 0}
        )
        group["seconds"] += int(row_seconds)
        group["billable"] += int(billable_seconds)
        group["cents"] += int(cents)

    if grouping.every_day:  # so the line has no gaps
        for i in range((filters.end - filters.start).days + 1):
            day = (filters.start + timedelta(days=i)).isoformat()
            groups.setdefault(
                day, {"label": day, "color": None, "seconds": 0, "billable": 0, "cents": 0}
            )
    ordered = sorted(groups.items(), key=grouping.order)

    rows = [
        ReportRow(
            key=key, label=g["label"], seconds=g["seconds"], billable_seconds=g["billable"],
            amount=money.from_cents(g["cents"]), color=g["color"],
        )
        for key, g in ordered
    ]
    if grouping.rows_overlap:
        # The rows may add up to more than the time booked: the totals come from the
        # entries themselves.
        totals = _compute(viewer, filters, "project")
        total_seconds, billable_seconds, amount = (
            totals.total_seconds, totals.billable_seconds, totals.amount)
    else:
        total_seconds = sum(r.seconds for r in rows)
        billable_seconds = sum(r.billable_seconds for r in rows)
        amount = money.from_cents(sum(g["cents"] for g in groups.values()))
    return Report(
        start=filters.start, end=filters.end, group_by=group_by, timezone=str(tz.key),
        rows=rows, total_seconds=total_seconds, billable_seconds=billable_seconds, amount=amount,
    )


def _sums(query, billable_apart: bool):
    """The query's rows as (keys..., seconds, billable seconds, billable cents).

    The day query on PostgreSQL (``billable_apart``) sums billable time with FILTER
    already; the others return one row per group and billable flag, folded here
    (their cents are billable entries' only already).
    """
    if billable_apart:
        yield from db.session.execute(query)
        return
    for *keys, billable, seconds, cents in db.session.execute(query):
        yield (*keys, seconds, seconds if billable else 0, cents)


# -- the groupings ----------------------------------------------------------------------

RowDescription = tuple[str, str, str | None]  # (key, label, colour) of one report row


@dataclass(frozen=True)
class Grouping:
    """One way to group a report, stated in one place: a new grouping is one more entry in
    :data:`GROUPINGS_BY_NAME`.

    ``plan(grouping, viewer, filters, where, tz)`` returns the query and whether it sums
    billable time apart already (see :func:`_sums`); the query's rows start with the
    grouping's key columns, which ``describe(keys, start)`` turns into a row's key, label
    and colour. ``key_columns``, ``entry_key`` and the two joins serve :func:`_by_name`.
    """

    name: str
    label: str  # the page's "Group by" choice and the table's first heading
    describe: Callable[[list, date], RowDescription]
    plan: Callable[..., tuple[Any, bool]]
    key_columns: tuple = ()  # the names pass selects and groups by these
    entry_key: Any = None  # summed apart in the first pass, besides project and task
    join_entry_key: Callable | None = None  # (first pass) → it with the table of entry_key
    join_names: Callable | None = None  # (names pass, first pass subquery) → it joined
    every_day: bool = False  # a row for each day of the range, even an empty one
    order: Callable[[tuple[str, dict]], Any] = (
        lambda item: (-item[1]["seconds"], item[1]["label"].lower()))  # most time first
    rows_overlap: bool = False  # an entry may count in several rows
    chart: str = "bar"  # the page's chart type


def _by_name(grouping: Grouping, viewer: User, filters: ReportFilters, where, tz):
    """Sum per (entry key, project, task, billable) in one pass over ``time_entries``
    (rates by array subscript on PostgreSQL, see :func:`_with_entry_cents`), then join
    only those few hundred sums to projects, clients and tasks for their names: joining
    first costs a hash probe per entry."""
    entry_keys = [] if grouping.entry_key is None else [grouping.entry_key]
    sums = select(*entry_keys, TimeEntry.project_id, TimeEntry.task_id,
                  TimeEntry.billable).select_from(TimeEntry)
    if grouping.join_entry_key is not None:
        sums = grouping.join_entry_key(sums)
    sums, entry_cents = _with_entry_cents(sums)
    sums = (
        sums.add_columns(func.sum(TimeEntry.duration_seconds).label("seconds"),
                         _billable_cents(entry_cents).label("cents"))
        .where(where)
        .group_by(*entry_keys, TimeEntry.project_id, TimeEntry.task_id, TimeEntry.billable)
        .subquery()
    )
    key_cols = list(grouping.key_columns)
    query = (
        select(
            *key_cols, sums.c.billable,
            func.coalesce(func.sum(sums.c.seconds), 0),
            func.coalesce(func.sum(sums.c.cents), 0),
        )
        .select_from(sums)
        .join(Project, Project.id == sums.c.project_id)
        .outerjoin(Client, Client.id == Project.client_id)
        .outerjoin(Task, Task.id == sums.c.task_id)
    )
    if grouping.join_names is not None:
        query = grouping.join_names(query, sums)
    return query.group_by(*key_cols, sums.c.billable), False


def _by_day(_grouping: Grouping, viewer: User, filters: ReportFilters, where, tz):
    """By the local day an entry started on: PostgreSQL's plans in :func:`_days_on_postgresql`;
    elsewhere a CASE over the day boundaries (:func:`_day_bucket`)."""
    if _is_postgresql():
        return _days_on_postgresql(viewer, filters, where, tz), True
    # A day x project x task grouping would hardly reduce the rows: sum by day at once.
    bucket = _day_bucket(filters.start, filters.end, tz).label("k0")
    query, entry_cents = _with_entry_cents(select(bucket).select_from(TimeEntry))
    query = (
        query.add_columns(
            TimeEntry.billable, func.sum(TimeEntry.duration_seconds),
            _billable_cents(entry_cents))
        .where(where)
        .group_by(bucket, TimeEntry.billable)
    )
    return query, False


def _named(none_label: str) -> Callable[[list, date], RowDescription]:
    """(id, name) keys; a NULL id (an outer join found nothing) is the "none" row."""
    def describe(keys: list, _start: date) -> RowDescription:
        ident, name = keys
        if ident is None:
            return "none", none_label, None
        return str(ident), name, None
    return describe


def _describe_project(keys: list, _start: date) -> RowDescription:
    ident, name, client_name, color = keys
    return str(ident), name if client_name is None else f"{name} · {client_name}", color


def _describe_task(keys: list, _start: date) -> RowDescription:
    ident, name, project_name = keys
    if ident is None:
        return "none", "No task", None
    return str(ident), f"{name} · {project_name}", None


def _describe_user(keys: list, _start: date) -> RowDescription:
    ident, username, display_name = keys
    return str(ident), display_name or username, None


def _describe_day(keys: list, start: date) -> RowDescription:
    (index,) = keys
    day = (start + timedelta(days=int(index))).isoformat()
    return day, day, None


GROUPINGS_BY_NAME: dict[str, Grouping] = {grouping.name: grouping for grouping in (
    Grouping("project", "Project", _describe_project, _by_name,
             key_columns=(Project.id, Project.name, Client.name, Project.color)),
    Grouping("client", "Client", _named("No client"), _by_name,
             key_columns=(Client.id, Client.name)),
    Grouping("task", "Task", _describe_task, _by_name,
             key_columns=(Task.id, Task.name, Project.name)),
    Grouping("user", "User", _describe_user, _by_name,
             key_columns=(User.id, User.username, User.display_name),
             entry_key=TimeEntry.user_id,
             join_names=lambda query, sums: query.join(User, User.id == sums.c.user_id)),
    Grouping("day", "Day", _describe_day, _by_day,
             every_day=True, order=lambda item: item[0], chart="line"),  # ISO dates sort by date
    # An entry counts once under each of its tags, or under "No tag".
    Grouping("tag", "Tag", _named("No tag"), _by_name,
             key_columns=(Tag.id, Tag.name),
             entry_key=time_entry_tags.c.tag_id,
             join_entry_key=lambda sums: sums.outerjoin(
                 time_entry_tags, time_entry_tags.c.entry_id == TimeEntry.id),
             join_names=lambda query, sums: query.outerjoin(Tag, Tag.id == sums.c.tag_id),
             rows_overlap=True),
)}
GROUPINGS = tuple(GROUPINGS_BY_NAME)  # the names, in the page's order


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
