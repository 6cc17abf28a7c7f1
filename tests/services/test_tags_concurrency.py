"""Tag creation under simultaneous requests: one tag per name key, whatever arrives at once.

Real parallel requests against real gunicorn on the test's database (SQLite and
PostgreSQL): six entries are created at the same instant through the API, each with
another spelling of one tag. The unique index on ``tags.name_key`` must leave exactly
one tag, and every entry must carry it.
"""

from __future__ import annotations

import pytest
import requests
from sqlalchemy import select

from app import create_app
from app.extensions import db
from app.models import Tag, TimeEntry
from app.services import api_tokens, catalog
from app.services.users import create_user
from app.services.validation import name_key
from tests.support.parallel import live_server, race

ROUNDS = 6
# Case, fullwidth, soft hyphen, zero-width, Cyrillic "е", U+202E: one tag on screen.
SPELLINGS = ["Urgent{n}", "urgent{n}", "URGENT{n}", "\uff35rgent{n}", "Urg\u00adent{n}",
             "Urg\u200bent{n}", "Urg\u0435nt{n}", "\u202eUrgent{n}"]


def _prepare(database_url: str, folder) -> tuple[str, int]:
    """A user with an API token and a project, written straight into the database."""
    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "DATA_DIR": str(folder),
                      "TESTING": True})
    with app.app_context():
        user = create_user(username="racer", password="racer-password-123", role="user",
                           timezone="UTC")
        project = catalog.create_project(name="Racing")
        secret = api_tokens.create_token(user, "race").secret
        project_id = project.id
        db.session.remove()
        db.engine.dispose()
    return secret, project_id


def _tags_and_entries(database_url: str, folder):
    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "DATA_DIR": str(folder),
                      "TESTING": True})
    with app.app_context():
        tags = [(t.id, t.name_key) for t in db.session.scalars(select(Tag))]
        entries = {e.id: sorted(t.id for t in e.tags) for e in db.session.scalars(select(TimeEntry))}
        db.session.remove()
        db.engine.dispose()
    return tags, entries


def test_simultaneous_spellings_of_one_tag_make_one_tag(database_url, tmp_path):
    with live_server(tmp_path / "server", database_url) as server:
        secret, project_id = _prepare(database_url, tmp_path / "prep")
        headers = {"Authorization": f"Bearer {secret}"}

        def create(spelling: str, n: int, slot: int):
            def post():
                body = {"project_id": project_id, "tags": [spelling.format(n=n)],
                        "started_at": f"2026-03-{n + 2:02d}T{slot + 8:02d}:00:00",
                        "ended_at": f"2026-03-{n + 2:02d}T{slot + 8:02d}:30:00"}
                return requests.post(f"{server.url}/api/v1/time-entries", json=body,
                                     headers=headers, timeout=30)
            return post

        for n in range(ROUNDS):
            responses = race([create(s, n, i) for i, s in enumerate(SPELLINGS)])
            statuses = [getattr(r, "status_code", r) for r in responses]
            assert statuses == [201] * len(SPELLINGS), f"round {n}: {statuses}"
            tags, entries = _tags_and_entries(database_url, tmp_path / "check")
            key = name_key(f"Urgent{n}")
            in_round = [tag_id for tag_id, tag_key in tags if tag_key == key]
            assert len(in_round) == 1, f"round {n}: {len(in_round)} tags for one name"
            assert len(tags) == n + 1, f"round {n}: {len(tags)} tags after {n + 1} names"
            round_entries = [r.json()["id"] for r in responses]
            assert all(entries[e] == in_round for e in round_entries), f"round {n}"
