"""The week timesheet: a grid of (project, task) rows by Monday..Sunday, over ordinary entries.

A cell is the total of the user's finished entries for that row on that local day.
Saving a grid writes ordinary time entries, so reports, exports and the API see
timesheet time like any other:

- a cell raised from 1:00 to 2:30 gains one manual entry of 1:30 that day, placed after
  the day's last entry (or at 09:00), so it overlaps nothing the user already has;
- a cell lowered shortens that row's latest entries of the day, deleting those that
  reach zero; a cell emptied deletes them all;
- every cell is checked before anything is written (one transaction), and a cell that
  changed elsewhere since the page was loaded (its "was" value no longer matches) is
  refused rather than overwritten.

Running timers are not in the grid (they have no total yet) and are never touched.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from .. import events
from ..extensions import db
from ..models import SOURCE_MANUAL, Project, Task, TimeEntry, User
from ..models.types import utcnow
from .catalog import get_bookable_project, resolve_task
from .errors import ServiceError, ValidationError
from .validation import parse_duration, zone

DAYS = 7
DEFAULT_START = time(9, 0)
_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")

RowKey = tuple[int, int | None]  # (project id, task id or None)


@dataclass
class Row:
    project: Project
    task: Task | None
    seconds: list[int] = field(default_factory=lambda: [0] * DAYS)

    @property
    def key(self) -> RowKey:
        return (self.project.id, self.task.id if self.task else None)

    @property
    def total(self) -> int:
        return sum(self.seconds)


@dataclass
class Timesheet:
    monday: date
    rows: list[Row]

    @property
    def days(self) -> list[date]:
        return [self.monday + timedelta(days=i) for i in range(DAYS)]

    @property
    def day_totals(self) -> list[int]:
        return [sum(row.seconds[i] for row in self.rows) for i in range(DAYS)]

    @property
    def total(self) -> int:
        return sum(row.total for row in self.rows)

    @property
    def week(self) -> str:
        return week_label(self.monday)


class CellErrors(ValidationError):
    """Some cells could not be saved; ``errors`` maps (row key, day index) → message."""

    def __init__(self, errors: dict[tuple[RowKey, int], str]):
        super().__init__(f"{len(errors)} cell(s) could not be saved; nothing was changed.",
                         "cells")
        self.errors = errors


def week_label(monday: date) -> str:
    year, week, _ = monday.isocalendar()
    return f"{year}-W{week:02d}"


def parse_week(value: str | None, viewer: User, now: datetime | None = None) -> date:
    """The Monday of an ISO week ``YYYY-Www``; blank is the viewer's current week."""
    if not value:
        today = (now or utcnow()).astimezone(zone(viewer.timezone)).date()
        return today - timedelta(days=today.weekday())
    match = _WEEK.match(value.strip())
    try:
        if not match:
            raise ValueError
        monday = date.fromisocalendar(int(match.group(1)), int(match.group(2)), 1)
    except ValueError:
        raise ValidationError("A week looks like 2026-W10.", "week") from None
    if not 1970 <= monday.year <= 2999:
        raise ValidationError("That week is out of range.", "week")
    return monday


def _day_start(day: date, tz) -> datetime:
    return datetime.combine(day, time.min, tzinfo=tz).astimezone(timezone.utc)


def _entries(user: User, monday: date, tz) -> list[TimeEntry]:
    return list(db.session.scalars(
        select(TimeEntry)
        .options(joinedload(TimeEntry.project), joinedload(TimeEntry.task))
        .where(TimeEntry.user_id == user.id, TimeEntry.ended_at.is_not(None),
               TimeEntry.started_at >= _day_start(monday, tz),
               TimeEntry.started_at < _day_start(monday + timedelta(days=DAYS), tz))
        .order_by(TimeEntry.started_at, TimeEntry.id)
    ))


def _day_index(entry: TimeEntry, monday: date, tz) -> int:
    return (entry.started_at.astimezone(tz).date() - monday).days


def _row_for(rows: dict[RowKey, Row], project: Project, task: Task | None) -> Row:
    key = (project.id, task.id if task else None)
    if key not in rows:
        rows[key] = Row(project=project, task=task)
    return rows[key]


def week_grid(user: User, monday: date, extra_rows: list[RowKey] = (),
              copy_previous: bool = False) -> Timesheet:
    """The user's week as rows × days of seconds.

    Rows are those with time this week, plus ``extra_rows`` (added in the page) and,
    with ``copy_previous``, the rows of the week before (empty: their time is not copied).
    Unknown or unbookable extra rows are skipped.
    """
    tz = zone(user.timezone)
    rows: dict[RowKey, Row] = {}
    for entry in _entries(user, monday, tz):
        _row_for(rows, entry.project, entry.task).seconds[_day_index(entry, monday, tz)] += int(
            entry.duration_seconds or 0)
    wanted = list(extra_rows)
    if copy_previous:
        wanted += [(e.project_id, e.task_id) for e in _entries(user, monday - timedelta(days=7), tz)
                   if not e.project.archived]
    for project_id, task_id in wanted:
        if (project_id, task_id) in rows:
            continue
        try:
            project = get_bookable_project(project_id)
            task = resolve_task(project, task_id)
        except ServiceError:  # a project or task that is gone, archived or mismatched
            continue
        _row_for(rows, project, task)
    ordered = sorted(rows.values(), key=lambda r: (r.project.name.lower(),
                                                   r.task.name.lower() if r.task else ""))
    return Timesheet(monday=monday, rows=ordered)


@dataclass(frozen=True)
class CellChange:
    project_id: int
    task_id: int | None
    day: int          # 0 = Monday
    typed: str        # what the user typed (blank = zero)
    was: int | None   # seconds the page showed, None if the page did not say


def save_week(user: User, monday: date, changes: list[CellChange]) -> int:
    """Apply the typed cells as ordinary entries; returns how many cells changed.

    All or nothing: every cell is parsed and checked first; any problem raises
    :class:`CellErrors` (per cell) and nothing is written.
    """
    tz = zone(user.timezone)
    entries = _entries(user, monday, tz)
    current: dict[tuple[RowKey, int], list[TimeEntry]] = {}
    for entry in entries:
        current.setdefault(((entry.project_id, entry.task_id), _day_index(entry, monday, tz)),
                           []).append(entry)

    errors: dict[tuple[RowKey, int], str] = {}
    plan: list[tuple[tuple[RowKey, int], int, int]] = []  # (cell, target seconds, now seconds)
    projects: dict[RowKey, tuple[Project, Task | None]] = {}
    for change in changes:
        key = (change.project_id, change.task_id)
        cell = (key, change.day)
        if not 0 <= change.day < DAYS:
            continue
        try:
            target = parse_duration(change.typed, "cells") or 0
        except ValidationError as exc:
            errors[cell] = exc.message
            continue
        existing = sum(int(e.duration_seconds or 0) for e in current.get(cell, []))
        if change.was is not None and change.was != existing:
            errors[cell] = "Changed elsewhere since this page was loaded; reload to see it."
            continue
        if target == existing:
            continue
        if target > existing and key not in projects:
            try:
                project = get_bookable_project(change.project_id)
                projects[key] = (project, resolve_task(project, change.task_id))
            except ServiceError as exc:
                errors[cell] = exc.message
                continue
        plan.append((cell, target, existing))
    if errors:
        raise CellErrors(errors)

    created: list[TimeEntry] = []
    shortened: list[TimeEntry] = []
    deleted: list[int] = []
    for (key, day), target, existing in plan:
        if target > existing:
            project, task = projects[key]
            created.append(_add(user, monday + timedelta(days=day), tz, entries, project, task,
                                target - existing))
        else:
            _remove(current.get((key, day), []), existing - target, shortened, deleted)
    db.session.commit()
    # Ordinary entries, so reported as such: the same events as the entry form's.
    for entry in created:
        events.announce(events.entry_created, actor=user, entry=entry)
    for entry in shortened:
        events.announce(events.entry_updated, actor=user, entry=entry)
    for entry_id in deleted:
        events.announce(events.entry_deleted, actor=user, entry_id=entry_id)
    return len(plan)


def _add(user, day: date, tz, entries, project, task, seconds: int) -> TimeEntry:
    day_start, next_day = _day_start(day, tz), _day_start(day + timedelta(days=1), tz)
    start = datetime.combine(day, DEFAULT_START, tzinfo=tz).astimezone(timezone.utc)
    same_day_ends = [e.ended_at for e in entries if day_start <= e.started_at < next_day]
    if same_day_ends:
        start = max(start, max(same_day_ends))
    if start + timedelta(seconds=seconds) > next_day:  # keep the entry on its day
        start = max(day_start, next_day - timedelta(seconds=seconds))
    entry = TimeEntry(user_id=user.id, project_id=project.id, task_id=task.id if task else None,
                      started_at=start, ended_at=start + timedelta(seconds=seconds),
                      duration_seconds=seconds, billable=project.billable, source=SOURCE_MANUAL)
    db.session.add(entry)
    entries.append(entry)
    return entry


def _remove(cell_entries: list[TimeEntry], seconds: int, shortened: list[TimeEntry],
            deleted: list[int]) -> None:
    """Take ``seconds`` off the cell's latest entries first (noting which it shortened and
    which it deleted)."""
    for entry in sorted(cell_entries, key=lambda e: (e.started_at, e.id), reverse=True):
        if seconds <= 0:
            return
        if entry.duration_seconds <= seconds:
            seconds -= entry.duration_seconds
            deleted.append(entry.id)
            db.session.delete(entry)
        else:
            entry.duration_seconds -= seconds
            entry.ended_at = entry.started_at + timedelta(seconds=entry.duration_seconds)
            shortened.append(entry)
            seconds = 0
