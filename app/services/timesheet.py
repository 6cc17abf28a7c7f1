"""The week timesheet: a grid of (project, task) rows by Monday..Sunday, over ordinary entries.

A cell is the total of the user's finished entries for that row on that local day.
Saving a grid writes ordinary time entries, so reports, exports and the API see
timesheet time like any other:

- a cell is compared by the text the page showed in it (the rendering rounds to the
  minute): posted as shown, it is untouched, whatever seconds lie under it;
- a cell raised from 1:00 to 2:30 gains one manual entry of 1:30 that day, placed after
  the day's last entry (or at 09:00), so it overlaps nothing the user already has,
  unless it must move earlier to end by midnight or by now (the timesheet books time
  done: a day to come, or more than today has had, is refused);
- a cell lowered shortens that row's latest entries of the day, deleting those that
  reach zero; a cell emptied deletes them all;
- every cell is checked before anything is written (one transaction, under the user's
  row lock), and a cell that changed elsewhere since the page was loaded (its "was"
  value no longer matches) is refused rather than overwritten;
- weeks are those an entry may lie in (:func:`app.services.validation.bookable_days`,
  the rule of the entry forms and the API).

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
from .locking import lock_rows
from .validation import bookable_days, parse_duration, zone

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
    # The weeks an entry may lie in, by the rule the entry forms and the API use.
    first, last = bookable_days(zone(viewer.timezone), now)
    first_monday = first + timedelta(days=-first.weekday() % 7)
    last_monday = last - timedelta(days=last.weekday())
    if not first_monday <= monday <= last_monday:
        raise ValidationError(f"That week is out of range: weeks {week_label(first_monday)} to "
                              f"{week_label(last_monday)} can hold time.", "week")
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
        # Fresh from the database, not the session's copies: read after a lock, this is
        # what the rule checks.
        .execution_options(populate_existing=True)
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
    # The text the page rendered in the cell, None if the page did not say. A rendering
    # rounds (0:00 for 2 seconds, 0.33 for 0:20), so a cell is compared by its text:
    # posted as shown, it is untouched whatever seconds lie under it.
    shown: str | None = None

    @property
    def untouched(self) -> bool:
        return self.shown is not None and self.typed.strip() == self.shown.strip()


CHANGED_ELSEWHERE = "Changed elsewhere since this page was loaded; reload to see it."
FUTURE_DAY = "This day has not come yet: time is booked once it is done."
DAY_TOO_SHORT = "That is more time than this day has."


def _no_room(day: date, tz, now: datetime) -> str:
    """Why an addition does not fit on ``day``: the day is to come, today has not had
    that much time yet, or the day is shorter (a DST change)."""
    if _day_start(day, tz) >= now:
        return FUTURE_DAY
    if _day_start(day + timedelta(days=1), tz) > now:
        return (f"That would end after now ({now.astimezone(tz):%H:%M}): enter at most "
                "the time today has had so far.")
    return DAY_TOO_SHORT


def save_week(user: User, monday: date, changes: list[CellChange],
              now: datetime | None = None) -> int:
    """Apply the typed cells as ordinary entries; returns how many cells changed.

    All or nothing: every cell is parsed and checked first; any problem raises
    :class:`CellErrors` (per cell) and nothing is written. A cell posted as the page
    showed it is skipped; an addition must end by ``now`` (the timesheet books time
    done, not planned).
    """
    tz = zone(user.timezone)
    now = now or utcnow()
    # The user's row lock first, then the read: a second save of this user's week waits
    # here until the first commits, then sees its cells, so "was" is checked against
    # what is stored, not against what another request is about to write.
    lock_rows(User, User.id == user.id)
    entries = _entries(user, monday, tz)
    current: dict[tuple[RowKey, int], list[TimeEntry]] = {}
    for entry in entries:
        current.setdefault(((entry.project_id, entry.task_id), _day_index(entry, monday, tz)),
                           []).append(entry)

    errors: dict[tuple[RowKey, int], str] = {}
    plan: list[tuple[tuple[RowKey, int], int, int, datetime | None]] = []
    # (cell, target seconds, now seconds, start of the entry added)
    projects: dict[RowKey, tuple[Project, Task | None]] = {}
    day_ends = [[e.ended_at for e in entries if _day_index(e, monday, tz) == i]
                for i in range(DAYS)]
    for change in changes:
        key = (change.project_id, change.task_id)
        cell = (key, change.day)
        if not 0 <= change.day < DAYS or change.untouched:
            continue
        try:
            target = parse_duration(change.typed, "cells") or 0
        except ValidationError as exc:
            errors[cell] = exc.message
            continue
        existing = sum(int(e.duration_seconds or 0) for e in current.get(cell, []))
        if change.was is not None and change.was != existing:
            errors[cell] = CHANGED_ELSEWHERE
            continue
        if target == existing:
            continue
        start = None
        if target > existing:
            day = monday + timedelta(days=change.day)
            start = _place(day, tz, day_ends[change.day], target - existing, now)
            if start is None:
                errors[cell] = _no_room(day, tz, now)
                continue
            if key not in projects:
                try:
                    project = get_bookable_project(change.project_id)
                    projects[key] = (project, resolve_task(project, change.task_id))
                except ServiceError as exc:
                    errors[cell] = exc.message
                    continue
            day_ends[change.day].append(start + timedelta(seconds=target - existing))
        plan.append((cell, target, existing, start))
    if errors:
        raise CellErrors(errors)

    created: list[TimeEntry] = []
    shortened: list[TimeEntry] = []
    deleted: list[int] = []
    for (key, day), target, existing, start in plan:
        if start is not None:
            project, task = projects[key]
            created.append(_add(user, start, project, task, target - existing))
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


def _place(day: date, tz, same_day_ends: list[datetime], seconds: int,
           now: datetime) -> datetime | None:
    """Where an added entry of ``seconds`` starts on ``day``: after the day's last entry
    (or at 09:00), moved earlier if it would run past midnight or past ``now``; None when
    the day has not had that much time by ``now``."""
    day_start = _day_start(day, tz)
    latest_end = min(_day_start(day + timedelta(days=1), tz), now)
    start = datetime.combine(day, DEFAULT_START, tzinfo=tz).astimezone(timezone.utc)
    if same_day_ends:
        start = max(start, max(same_day_ends))
    if start + timedelta(seconds=seconds) > latest_end:
        start = max(day_start, latest_end - timedelta(seconds=seconds))
    if start + timedelta(seconds=seconds) > latest_end:
        return None
    return start


def _add(user, start: datetime, project, task, seconds: int) -> TimeEntry:
    entry = TimeEntry(user_id=user.id, project_id=project.id, task_id=task.id if task else None,
                      started_at=start, ended_at=start + timedelta(seconds=seconds),
                      duration_seconds=seconds, billable=project.billable, source=SOURCE_MANUAL)
    db.session.add(entry)
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
