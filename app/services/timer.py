"""The running timer: an entry with no end, at most one per user (a unique index)."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..models import SOURCE_TIMER, TimeEntry, User
from ..models.types import utcnow
from .. import events
from .catalog import get_bookable_project, resolve_task
from .entries import clean_notes, get_entry_for
from .errors import Conflict, NotFound


class TimerAlreadyRunning(Conflict):
    code = "timer_running"


class NoTimerRunning(NotFound):
    code = "no_timer_running"


def running_entry(user: User) -> TimeEntry | None:
    """The user's running entry, or None."""
    return db.session.scalar(
        select(TimeEntry).where(TimeEntry.user_id == user.id, TimeEntry.ended_at.is_(None))
    )


def start_timer(user: User, *, project_id, task_id=None, notes: str | None = None) -> TimeEntry:
    """Start a timer. Refused with :class:`TimerAlreadyRunning` if one runs.

    The check-then-insert is not what protects us: the partial unique index
    ``uq_time_entries_one_running_per_user`` makes the second of two concurrent
    inserts fail, and that failure becomes the same clear refusal.
    """
    project = get_bookable_project(project_id)
    task = resolve_task(project, task_id)
    notes = clean_notes(notes)
    if running_entry(user) is not None:
        raise TimerAlreadyRunning("A timer is already running. Stop it before starting another.")
    entry = TimeEntry(
        user_id=user.id,
        project_id=project.id,
        task_id=task.id if task else None,
        started_at=utcnow(),
        notes=notes,
        billable=project.billable,
        source=SOURCE_TIMER,
    )
    db.session.add(entry)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise TimerAlreadyRunning(
            "A timer is already running. Stop it before starting another."
        ) from None
    events.announce(events.timer_started, actor=user, entry=entry)
    return entry


def stop_timer(user: User) -> TimeEntry:
    """Stop the user's running timer and return the finished entry.

    A single conditional UPDATE ends the entry, so of two concurrent stops one
    finishes the entry and the other gets :class:`NoTimerRunning`; the
    duration is computed once, from the end the database kept.
    """
    entry = running_entry(user)
    if entry is None:
        raise NoTimerRunning("No timer is running.")
    ended_at = max(utcnow(), entry.started_at)
    duration = int((ended_at - entry.started_at).total_seconds())
    changed = db.session.execute(
        update(TimeEntry)
        .where(TimeEntry.id == entry.id, TimeEntry.ended_at.is_(None))
        .values(ended_at=ended_at, duration_seconds=duration, updated_at=ended_at)
        .execution_options(synchronize_session=False)
    ).rowcount
    if changed != 1:
        db.session.rollback()
        raise NoTimerRunning("No timer is running.")
    db.session.commit()
    db.session.refresh(entry)
    events.announce(events.timer_stopped, actor=user, entry=entry)
    return entry


def restart_entry(user: User, entry_id) -> TimeEntry:
    """Start a new timer with the project, task and notes of one of the user's entries."""
    previous = get_entry_for(user, entry_id)
    return start_timer(
        user, project_id=previous.project_id, task_id=previous.task_id, notes=previous.notes
    )
