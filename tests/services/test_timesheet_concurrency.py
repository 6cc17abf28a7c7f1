"""Two timesheet saves at the same moment: the "changed elsewhere" check holds.

Real parallel POSTs against real gunicorn (two workers) on the test's database, both
SQLite and PostgreSQL. Both saves were made from the same page: the cell showed 1:00
and both type 2:00. Exactly one may win; the other must find the cell changed and be
refused, so the cell holds one addition (2:00), never two (3:00).
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from sqlalchemy import select

from app.extensions import db
from app.models import TimeEntry, User
from app.services import catalog, entries
from tests.support.parallel import ADMIN_PASSWORD, WebSession, live_server, race

ROUNDS = 8
WEEK = "2026-W13"
MONDAY = datetime(2026, 3, 23)


def _seed(app, round_: int) -> int:
    """A project with one 1:00 entry on the week's Monday; returns the project's id."""
    with app.app_context():
        admin = db.session.scalar(select(User).where(User.username == "admin"))
        project = catalog.create_project(name=f"Race {round_}")
        start = datetime.combine(MONDAY.date(), time(12))
        entries.create_entry(admin, project_id=project.id, started_at=start,
                             ended_at=start + timedelta(hours=1))
        return project.id


def _cell_seconds(app, project_id: int) -> list[int]:
    with app.app_context():
        db.session.expire_all()
        return [e.duration_seconds for e in db.session.scalars(
            select(TimeEntry).where(TimeEntry.project_id == project_id)
            .order_by(TimeEntry.started_at))]


def test_two_simultaneous_saves_of_one_cell_one_wins_the_other_is_refused(
        database_url, app_factory, tmp_path):
    with live_server(tmp_path / "server", database_url) as server:
        app = app_factory()
        first = WebSession(server.url, "admin", ADMIN_PASSWORD)
        second = WebSession(server.url, "admin", ADMIN_PASSWORD)
        for round_ in range(ROUNDS):
            project_id = _seed(app, round_)
            cell = f"{project_id}-0-0"
            # What both browsers post: the page as it was loaded, one cell typed.
            form = {f"cell-{cell}": "2:00", f"was-{cell}": "3600", f"shown-{cell}": "1:00"}
            tokens = [session.csrf_token(f"/timesheet?week={WEEK}") for session in (first, second)]
            responses = race([
                lambda s=session, t=token: s.post_form(f"/timesheet?week={WEEK}", form, token=t)
                for session, token in zip((first, second), tokens)])
            assert not [r for r in responses if isinstance(r, Exception)], responses
            statuses = sorted(r.status_code for r in responses)
            assert statuses == [200, 302], f"round {round_}: {statuses}"
            refused = next(r for r in responses if r.status_code == 200)
            assert "Changed elsewhere since this page was loaded" in refused.text, round_
            assert _cell_seconds(app, project_id) == [3600, 3600], f"round {round_}"
