"""Manual time entries: create, edit, delete, list, and the dashboard totals."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import joinedload

from ..extensions import db
from ..models import SOURCE_MANUAL, Project, TimeEntry, User, time_entry_tags
from ..models.types import utcnow
from .. import events
from .catalog import get_bookable_project, get_project, resolve_task
from .errors import NotFound, ValidationError
from .tags import resolve_tags
from .validation import (EARLIEST_YEAR, LATEST_YEAR, check_day, check_end, clean_text,
                         in_zone, resolve_wall_time, to_utc, zone)

MAX_NOTES_LENGTH = 5000
LONG_ENTRY = timedelta(hours=24)


def clean_notes(notes: str | None) -> str | None:
    """Notes through the one text sanitiser (multi-line); empty notes are None."""
    return clean_text(notes, "notes", max_length=MAX_NOTES_LENGTH, multiline=True,
                      label="Notes") or None


def local_to_utc(value: datetime, tz_name: str, field: str = "started_at",
                 repeated_hour: str | None = None) -> datetime:
    """Interpret a naive wall-clock time in the user's zone; aware times pass through.

    A time the zone skips (spring) or repeats (autumn, unless ``repeated_hour`` says
    which) is refused (:func:`app.services.validation.resolve_wall_time`); the range
    check (:func:`app.services.validation.to_utc`) is the same for web forms and the
    API: years 1970-2999, before and after the conversion.
    """
    if isinstance(value, datetime) and value.tzinfo is None \
            and EARLIEST_YEAR < value.year < LATEST_YEAR:  # in range: no overflow either way
        value = resolve_wall_time(value, tz_name, field, repeated_hour)
    return to_utc(value, tz_name, field)


def as_stored_if_shown(posted: datetime | None, stored: datetime | None,
                       tz_name: str | None) -> datetime | None:
    """``stored`` when ``posted`` is what a form showed for it, else ``posted``.

    The entry forms show times to the minute (a naive wall time in the user's zone):
    a stored 09:00:37 shows as 09:00. Posted back untouched it is the stored time,
    so saving a note neither moves the entry by 37 seconds nor makes a 2-second
    entry end "before" it starts; a time the user changed is taken as typed.
    """
    if posted is None or stored is None or posted.tzinfo is not None:
        return posted
    shown = in_zone(stored, zone(tz_name)).replace(tzinfo=None, second=0, microsecond=0)
    return stored if posted == shown else posted


def _check_span(started_at: datetime, ended_at: datetime, confirm_long: bool) -> int:
    if ended_at <= started_at:
        raise ValidationError("End must be after start.", "ended_at")
    span = ended_at - started_at
    if span > LONG_ENTRY and not confirm_long:
        raise ValidationError(
            "This entry is longer than 24 hours. Tick “confirm long entry” if that is right.",
            "confirm_long",
        )
    check_end(ended_at, "ended_at")
    return int(span.total_seconds())


def get_entry_for(user: User, entry_id) -> TimeEntry:
    """An entry the user may see and change: their own, or any entry for an admin.

    Another user's entry answers "not found", not "forbidden", so ids reveal nothing.
    """
    try:
        ident = int(entry_id)
    except (TypeError, ValueError):
        raise NotFound("Time entry not found.") from None
    entry = db.session.get(TimeEntry, ident) if 0 < ident < 2**31 else None
    if entry is None or (entry.user_id != user.id and not user.is_admin):
        raise NotFound("Time entry not found.")
    return entry


def create_entry(
    user: User,
    *,
    project_id,
    started_at: datetime,
    ended_at: datetime | None,
    task_id=None,
    notes: str | None = None,
    billable: bool | None = None,
    confirm_long: bool = False,
    duration_seconds: int | None = None,
    repeated_hour: str | None = None,
    tags=None,
) -> TimeEntry:
    """Create a finished entry. Naive datetimes are read in the user's time zone.

    The end is ``ended_at``, or ``started_at + duration_seconds`` when no end is
    given (elapsed time, so an entry across a DST change lasts what was typed).
    ``billable`` None means the project's setting. ``tags``: names (a list or a
    comma-separated string); new ones are created.
    """
    project = get_bookable_project(project_id)
    task = resolve_task(project, task_id)
    start = local_to_utc(started_at, user.timezone, "started_at", repeated_hour)
    end = _end_from(start, ended_at, duration_seconds, user.timezone, repeated_hour)
    notes = clean_notes(notes)
    duration = _check_span(start, end, confirm_long)
    entry = TimeEntry(
        user_id=user.id,
        project_id=project.id,
        task_id=task.id if task else None,
        started_at=start,
        ended_at=end,
        duration_seconds=duration,
        notes=notes,
        billable=project.billable if billable is None else bool(billable),
        source=SOURCE_MANUAL,
    )
    entry.tags = resolve_tags(tags)
    db.session.add(entry)
    db.session.commit()
    events.announce(events.entry_created, actor=user, entry=entry)
    return entry


def _end_from(start: datetime, ended_at: datetime | None, duration_seconds: int | None,
              tz_name: str, repeated_hour: str | None) -> datetime:
    if ended_at is not None:
        return local_to_utc(ended_at, tz_name, "ended_at", repeated_hour)
    if duration_seconds is None:
        raise ValidationError("Enter an end or a duration.", "ended_at")
    if duration_seconds <= 0:
        raise ValidationError("The duration must be more than zero.", "duration")
    return start + timedelta(seconds=int(duration_seconds))


def update_entry(
    user: User,
    entry_id,
    *,
    project_id,
    started_at: datetime,
    ended_at: datetime | None,
    task_id=None,
    notes: str | None = None,
    billable: bool | None = True,
    confirm_long: bool = False,
    repeated_hour: str | None = None,
    tags=None,
) -> TimeEntry:
    """Edit an entry. A running entry keeps running unless an end is given.

    ``billable`` None means the (possibly new) project's setting; ``tags`` None keeps
    the entry's tags, a list (or comma-separated string) replaces them.
    """
    entry = get_entry_for(user, entry_id)
    project = get_project(project_id)
    if project.archived and project.id != entry.project_id:
        raise ValidationError("That project is archived.", "project_id")
    task = resolve_task(project, task_id)
    start = local_to_utc(started_at, user.timezone, "started_at", repeated_hour)
    notes = clean_notes(notes)
    if ended_at is None:
        if not entry.is_running:
            raise ValidationError("End is required.", "ended_at")
        if start > utcnow():
            raise ValidationError("A running timer cannot start in the future.", "started_at")
        end, duration = None, None
    else:
        end = local_to_utc(ended_at, user.timezone, "ended_at", repeated_hour)
        if (start, end) == (entry.started_at, entry.ended_at):
            # Times as stored: the span stands as it was accepted (a timer's 0-second
            # entry, a long one confirmed), so editing a note is never refused over it.
            duration = entry.duration_seconds
        else:
            duration = _check_span(start, end, confirm_long)
    entry.project_id = project.id
    entry.task_id = task.id if task else None
    entry.started_at, entry.ended_at, entry.duration_seconds = start, end, duration
    entry.notes = notes
    entry.billable = project.billable if billable is None else bool(billable)
    if tags is not None:
        entry.tags = resolve_tags(tags)
    db.session.commit()
    events.announce(events.entry_updated, actor=user, entry=entry)
    return entry


def delete_entry(user: User, entry_id) -> None:
    entry = get_entry_for(user, entry_id)
    deleted_id = entry.id
    db.session.delete(entry)
    db.session.commit()
    events.announce(events.entry_deleted, actor=user, entry_id=deleted_id)


@dataclass(frozen=True)
class EntryFilters:
    """Filters for listing entries. Dates are the viewer's local calendar days."""

    start: date | None = None
    end: date | None = None
    project_id: int | None = None
    client_id: int | None = None
    user_id: int | None = None
    tag_id: int | None = None


def filtered_entries_query(viewer: User, filters: EntryFilters):
    """A SELECT of entries the viewer may see, matching the filters, newest first.

    Dates outside 1970..2999 raise :class:`ValidationError` (the same rule as the
    API's and the reports'), never an overflow in the time-zone conversion.
    """
    for value, name in ((filters.start, "start"), (filters.end, "end")):
        if value is not None:
            check_day(value, name)
    query = select(TimeEntry).options(
        joinedload(TimeEntry.project).joinedload(Project.client),
        joinedload(TimeEntry.task),
        joinedload(TimeEntry.user),
    )
    if viewer.is_admin:
        if filters.user_id:
            query = query.where(TimeEntry.user_id == filters.user_id)
    else:
        query = query.where(TimeEntry.user_id == viewer.id)
    tz = zone(viewer.timezone)
    if filters.start:
        query = query.where(TimeEntry.started_at >= _day_start_utc(filters.start, tz))
    if filters.end:
        query = query.where(
            TimeEntry.started_at < _day_start_utc(filters.end + timedelta(days=1), tz)
        )
    if filters.project_id:
        query = query.where(TimeEntry.project_id == filters.project_id)
    if filters.client_id:
        query = query.join(Project, Project.id == TimeEntry.project_id).where(
            Project.client_id == filters.client_id
        )
    if filters.tag_id:
        query = query.where(TimeEntry.id.in_(
            select(time_entry_tags.c.entry_id).where(time_entry_tags.c.tag_id == filters.tag_id)))
    return query.order_by(TimeEntry.started_at.desc(), TimeEntry.id.desc())


def _day_start_utc(day: date, tz) -> datetime:
    return datetime.combine(day, time.min, tzinfo=tz).astimezone(timezone.utc)


def recent_entries(user: User, limit: int = 8) -> list[TimeEntry]:
    return list(
        db.session.scalars(
            select(TimeEntry)
            .options(joinedload(TimeEntry.project), joinedload(TimeEntry.task))
            .where(TimeEntry.user_id == user.id, TimeEntry.ended_at.is_not(None))
            .order_by(TimeEntry.started_at.desc(), TimeEntry.id.desc())
            .limit(limit)
        )
    )


@dataclass(frozen=True)
class Totals:
    today_seconds: int
    week_seconds: int


def totals_for(user: User, now: datetime | None = None) -> Totals:
    """Seconds booked today and this week (Monday first) in the user's zone.

    Entries are attributed to the day they started; a running timer counts
    up to ``now``. Both ranges are closed on both sides: an entry dated
    tomorrow or next week is not today's or this week's. One query computes
    both sums.
    """
    now = now or utcnow()
    tz = zone(user.timezone)
    local_today = now.astimezone(tz).date()
    today_start = _day_start_utc(local_today, tz)
    tomorrow_start = _day_start_utc(local_today + timedelta(days=1), tz)
    monday = local_today - timedelta(days=local_today.weekday())
    week_start = _day_start_utc(monday, tz)
    next_week_start = _day_start_utc(monday + timedelta(days=7), tz)
    finished = func.coalesce(TimeEntry.duration_seconds, 0)
    is_today = and_(TimeEntry.started_at >= today_start, TimeEntry.started_at < tomorrow_start)
    row = db.session.execute(
        select(
            func.coalesce(func.sum(case((is_today, finished), else_=0)), 0),
            func.coalesce(func.sum(finished), 0),
        ).where(
            TimeEntry.user_id == user.id,
            TimeEntry.started_at >= week_start,
            TimeEntry.started_at < next_week_start,
        )
    ).one()
    today, week = int(row[0]), int(row[1])
    running = db.session.scalar(
        select(TimeEntry).where(TimeEntry.user_id == user.id, TimeEntry.ended_at.is_(None))
    )
    if running is not None:
        elapsed = running.elapsed_seconds(now)
        if running.started_at >= week_start:
            week += elapsed
            if running.started_at >= today_start:
                today += elapsed
    return Totals(today_seconds=today, week_seconds=week)
