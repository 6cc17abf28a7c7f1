"""The API's request path does the least it can: one statement to resolve a token."""

from __future__ import annotations

import contextlib

from sqlalchemy import event


@contextlib.contextmanager
def statements(app):
    """The SQL statements the app's engine runs inside the block (PostgreSQL or SQLite)."""
    from app.extensions import db

    seen: list[str] = []

    def record(_conn, _cursor, statement, *_args):
        seen.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_a_token_request_resolves_its_token_and_user_in_one_statement(ready_app, admin_api):
    assert admin_api.get("/api/v1/me").status_code == 200  # records last_used_at
    with statements(ready_app) as seen:
        response = admin_api.get("/api/v1/me")
    assert response.status_code == 200
    assert response.get_json()["username"] == "admin"
    assert len(seen) == 1, seen
    assert "api_tokens" in seen[0] and "users" in seen[0]
