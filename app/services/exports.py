"""CSV export of time entries, produced row by row so memory stays flat.

The entries are the ones a report with the same filters covers
(:func:`app.services.reports.report_entries_filter`), running timers included
with an empty end. Rows are read from the database in batches of plain column
tuples (no ORM objects) and written through :mod:`csv`, so quoting is right
for commas, quotes and newlines in notes.

Each row carries the entry's hourly ``rate`` and its ``amount`` by the one rounding
rule of :mod:`app.services.money`, so the amount column sums to the report's total
for the same filters, to the cent. Both are for admins (like every rate and amount)
and blank for anyone else; a running timer has no amount yet.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from sqlalchemy import select

from .. import events
from ..extensions import db
from ..models import Client, Project, Tag, Task, TimeEntry, User, time_entry_tags
from . import money
from .catalog import may_see_rates
from .reports import ReportFilters, entry_rate, report_entries_filter
from .validation import in_zone, strip_unsafe_characters, zone

HEADER = (
    "entry_id", "user", "client", "project", "task", "notes", "billable",
    "started_at", "ended_at", "duration_seconds", "duration_hours", "rate", "amount", "tags",
)
BATCH_ROWS = 1000
# A spreadsheet treats a cell starting with one of these as a formula (or, for
# tab and carriage return, may strip them and then do so): CSV injection.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_filename(start, end) -> str:
    """The download's name carries its range: ``time-entries_2026-03-02_2026-03-08.csv``.

    Open ends read ``from``/``until``; no dates at all is ``time-entries_all.csv``.
    Dates are ISO, so the name sorts and never needs quoting.
    """
    if start and end:
        span = f"{start.isoformat()}_{end.isoformat()}"
    elif start:
        span = f"from_{start.isoformat()}"
    elif end:
        span = f"until_{end.isoformat()}"
    else:
        span = "all"
    return f"time-entries_{span}.csv"


def neutralise(value: str) -> str:
    """Prefix a cell a spreadsheet would run as a formula with an apostrophe (OWASP).

    Unsafe characters go first (the input sanitiser's rule; rows older than it may
    hold them): LibreOffice drops a leading NUL and then evaluates
    ``=HYPERLINK(...)``, so the check must look at what the spreadsheet will see.
    Leading spaces are looked through too: a spreadsheet may trim them on import.
    """
    value = strip_unsafe_characters(value, multiline=True)
    if value.lstrip(" ").startswith(_FORMULA_STARTS) or value.startswith(("\t", "\r")):
        return "'" + value
    return value


def export_rows(viewer, filters: ReportFilters) -> Iterator[tuple]:
    """One tuple of cell strings per entry, oldest first, times in the viewer's zone.

    The filters are checked here, before the first row is produced, so a bad
    filter becomes an error response instead of a truncated download.
    """
    return _cells(export_query(viewer, filters), zone(viewer.timezone), may_see_rates(viewer))


def export_query(viewer, filters: ReportFilters):
    """The SELECT behind the export: one row of plain columns per entry, oldest first.

    The order, ``started_at`` then ``id``, is the one ``ix_time_entries_started_id``
    holds, so PostgreSQL's server-side cursor reads the rows in order and the
    first batch leaves at once; sorting a million rows first took ~1.4 s. Raises
    like :func:`report_entries_filter` for filters the viewer may not use.
    """
    return (
        select(
            TimeEntry.id, User.username, Client.name, Project.name, Task.name, TimeEntry.notes,
            TimeEntry.billable, TimeEntry.started_at, TimeEntry.ended_at,
            TimeEntry.duration_seconds, money.rate_cents_sql(entry_rate()),
        )
        .select_from(TimeEntry)
        .join(Project, Project.id == TimeEntry.project_id)
        .outerjoin(Client, Client.id == Project.client_id)
        .outerjoin(Task, Task.id == TimeEntry.task_id)
        .join(User, User.id == TimeEntry.user_id)
        .where(*report_entries_filter(viewer, filters))
        .order_by(TimeEntry.started_at, TimeEntry.id)
        # A server-side cursor on PostgreSQL; batched fetches on SQLite.
        .execution_options(yield_per=BATCH_ROWS)
    )


def _tags_by_entry(entry_ids: list[int]) -> dict[int, str]:
    """Tag names per entry, ``"; "``-joined and sorted, for one batch of entries."""
    names: dict[int, list[str]] = {}
    rows = db.session.execute(
        select(time_entry_tags.c.entry_id, Tag.name)
        .join(Tag, Tag.id == time_entry_tags.c.tag_id)
        .where(time_entry_tags.c.entry_id.in_(entry_ids))
    )
    for entry_id, name in rows:
        names.setdefault(entry_id, []).append(name)
    return {entry_id: "; ".join(sorted(tags, key=str.lower)) for entry_id, tags in names.items()}


def _cells(query, tz, with_money: bool) -> Iterator[tuple]:
    batch: list[tuple] = []
    for row in db.session.execute(query):
        batch.append(row)
        if len(batch) >= BATCH_ROWS:
            yield from _batch_cells(batch, tz, with_money)
            batch = []
    if batch:
        yield from _batch_cells(batch, tz, with_money)


def _money_cells(seconds: int | None, billable: bool, rate_cents: int | None) -> tuple[str, str]:
    """(rate, amount): the amount as the report counts it, 0.00 when the entry bills nothing."""
    rate = "" if rate_cents is None else money.money_text(money.from_cents(rate_cents))
    if seconds is None:  # a running timer: no amount until it stops
        return rate, ""
    cents = money.entry_cents(seconds, rate_cents) if billable and rate_cents is not None else 0
    return rate, money.money_text(money.from_cents(cents))


def _batch_cells(batch: list[tuple], tz, with_money: bool) -> Iterator[tuple]:
    # One query for the batch's tags: a join in the main query would repeat each entry
    # once per tag, and a string aggregate differs between SQLite and PostgreSQL.
    tags = _tags_by_entry([row[0] for row in batch])
    for (entry_id, username, client, project, task, notes, billable, started, ended,
         seconds, rate_cents) in batch:
        rate, amount = _money_cells(seconds, billable, rate_cents) if with_money else ("", "")
        yield (
            str(entry_id),
            neutralise(username),
            neutralise(client or ""),
            neutralise(project),
            neutralise(task or ""),
            neutralise(notes or ""),
            "yes" if billable else "no",
            in_zone(started, tz).isoformat(),
            in_zone(ended, tz).isoformat() if ended else "",
            "" if seconds is None else str(seconds),
            "" if seconds is None else f"{seconds / 3600:.4f}",
            rate,
            amount,
            neutralise(tags.get(entry_id, "")),
        )


def csv_chunks(viewer, filters: ReportFilters, rows_per_chunk: int = 500) -> Iterator[str]:
    """The CSV document as text chunks: the header, then ``rows_per_chunk`` rows at a time.

    Chunking keeps the number of writes to the socket low without holding
    more than a few hundred rows in memory. The export is announced once the
    filters passed (``export_rows`` checks them before the first row).
    """
    rows = export_rows(viewer, filters)
    events.announce(events.csv_exported, actor=viewer, filters=filters)
    return _chunks(rows, rows_per_chunk)


def _chunks(rows: Iterator[tuple], rows_per_chunk: int) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(HEADER)
    pending = 0
    for row in rows:
        writer.writerow(row)
        pending += 1
        if pending >= rows_per_chunk:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
            pending = 0
    yield buffer.getvalue()
