"""Row write locks: how a service makes "check, then write" hold against a second request.

A rule that reads before it writes ("was this cell still 1:00?", "is another admin
left?") is only a rule if nobody can write between the read and the write. The
service first takes the write lock of the rows the rule is about, then reads, checks
and writes in the same transaction; a second request doing the same waits for the
first to commit and then reads what it wrote.

- PostgreSQL: ``SELECT ... FOR UPDATE`` locks the rows until the transaction ends.
  Under READ COMMITTED every later statement of the waiting transaction sees what
  the first one committed.
- SQLite has no row locks; a write statement takes the database's one write lock
  (the driver opens the transaction at the first write, not at a read), and the
  transaction's reads start after it. So the lock there is a write that changes
  nothing: each locked row's primary key set to itself (and any column with an
  ``onupdate`` default to itself, so nothing else moves). Other writers wait for it
  (the engine's ``timeout``), readers do not.

Both end with the transaction (commit or rollback). Take the lock before reading
anything the rule depends on, and before any other write of the transaction, so two
requests always lock in the same order.
"""

from __future__ import annotations

from sqlalchemy import select, update

from ..extensions import db


def lock_rows(model, *criteria) -> list[int]:
    """Take the write lock of ``model``'s rows matching ``criteria``; returns their ids.

    Rows loaded earlier in this session are not refreshed by this call: read what the
    rule checks after it (``populate_existing`` for objects already in the session).
    """
    table = model.__table__
    (key,) = table.primary_key.columns
    if db.session.get_bind().dialect.name == "postgresql":
        return list(db.session.scalars(
            select(key).where(*criteria).order_by(key).with_for_update()))
    unchanged = {column: column for column in table.columns if column.onupdate is not None}
    unchanged[key] = key
    rows = db.session.execute(
        update(table).where(*criteria).values(unchanged).returning(key)
        .execution_options(synchronize_session=False))
    return sorted(rows.scalars())
