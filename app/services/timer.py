"""The running timer: an entry with no end, at most one per user (a unique index)."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..models import SOURCE_TIMER, Project, TimeEntry, User
from ..models.types import utcnow
from .. import events
from .catalog import get_bookable_project, resolve_task
from .entries import clean_notes, get_entry_for, update_entry
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


def start_timer(user: User, *, project_id, task_id=None, notes: str | None = None,
                switch: bool = False) -> TimeEntry:
    """Start a timer. If one runs: refused with :class:`TimerAlreadyRunning`, or, with
    ``switch=True``, that one is stopped and the new one started in the same transaction.

    The check-then-insert is not what protects us: the partial unique index
    ``uq_time_entries_one_running_per_user`` makes the second of two concurrent
    inserts fail, and that failure becomes the same clear refusal.

    A switch ends the running entry with a conditional UPDATE (as :func:`stop_timer`)
    and starts the new one at that same instant, so no second falls between the two;
    both rows are committed together, so a failure leaves the old timer running. Of two
    concurrent switches one wins; the other's insert hits the unique index and is
    refused like any second start.
    """
    project = get_bookable_project(project_id)
    task = resolve_task(project, task_id)
    notes = clean_notes(notes)
    now = utcnow()
    running = running_entry(user)
    if running is not None:
        if not switch:
            raise TimerAlreadyRunning(
                "A timer is already running. Stop it before starting another.")
        now = max(now, running.started_at)
        db.session.execute(
            update(TimeEntry)
            .where(TimeEntry.id == running.id, TimeEntry.ended_at.is_(None))
            .values(ended_at=now, duration_seconds=int((now - running.started_at).total_seconds()),
                    updated_at=now)
            .execution_options(synchronize_session=False)
        )
    entry = TimeEntry(
        user_id=user.id,
        project_id=project.id,
        task_id=task.id if task else None,
        started_at=now,
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
    if running is not None:
        db.session.expire(running)  # its end was written by the UPDATE above
        events.announce(events.timer_stopped, actor=user, entry=running)
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


def restart_entry(user: User, entry_id, switch: bool = False) -> TimeEntry:
    """Start a new timer with the project, task and notes of one of the user's entries."""
    previous = get_entry_for(user, entry_id)
    return start_timer(
        user, project_id=previous.project_id, task_id=previous.task_id, notes=previous.notes,
        switch=switch,
    )


def update_running(user: User, *, project_id, task_id=None, notes: str | None = None,
                   started_at) -> TimeEntry:
    """Correct the running timer (start, project, task, notes); it keeps running.

    The same rules as editing any entry (:func:`app.services.entries.update_entry`):
    the start is read in the user's zone and may not lie in the future; billable
    follows the (possibly new) project.
    """
    entry = running_entry(user)
    if entry is None:
        raise NoTimerRunning("No timer is running.")
    return update_entry(user, entry.id, project_id=project_id, task_id=task_id, notes=notes,
                        started_at=started_at, ended_at=None, billable=None)


def last_used(user: User) -> tuple[int | None, int | None]:
    """(project id, task id) of the user's latest entry on a bookable project, for the
    timer form's defaults; (None, None) for a first timer."""
    row = db.session.execute(
        select(TimeEntry.project_id, TimeEntry.task_id)
        .join(Project, Project.id == TimeEntry.project_id)
        .where(TimeEntry.user_id == user.id, Project.archived.is_(False))
        .order_by(TimeEntry.started_at.desc(), TimeEntry.id.desc())
        .limit(1)
    ).first()
    return (row[0], row[1]) if row else (None, None)
