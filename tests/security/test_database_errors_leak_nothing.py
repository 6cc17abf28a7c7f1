"""Item 3: statement parameters and row values never reach a log line or a Sentry event."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
import sentry_sdk
from sqlalchemy import text

from app.extensions import db
from app.observability.logging import scrub_database_values
from app.services.setup import complete_setup
from tests.conftest import ADMIN_PASSWORD
from tests.observability.conftest import read_log_lines
from tests.support.polling import wait_for
from tests.support.sentry import SentryReceiver

NOTE = "zz-secret-note-text-4711"
NAME = "zz-secret-client-name"


@pytest.fixture
def sentry_receiver():
    receiver = SentryReceiver()
    yield receiver
    sentry_sdk.get_client().close(timeout=2)
    sentry_sdk.init()
    receiver.close()


def _failing_app(app_factory, **config):
    app = app_factory(PROPAGATE_EXCEPTIONS=False, **config)
    with app.app_context():
        complete_setup(admin_username="admin", admin_password=ADMIN_PASSWORD, allow_analytics=False)

    @app.get("/_test/duplicate-client")
    def duplicate_client():  # a unique violation: PostgreSQL quotes the value in DETAIL
        for _ in range(2):
            db.session.execute(text("INSERT INTO clients (name, name_key, archived, "
                                    "created_at) VALUES (:name, :name, false, :now)"),
                               {"name": NAME, "now": datetime.now(timezone.utc).replace(tzinfo=None)})
        return "unreachable"

    @app.get("/_test/bad-entry")
    def bad_entry():  # a foreign-key violation whose parameters hold the note
        db.session.execute(text(
            "INSERT INTO time_entries (user_id, project_id, started_at, notes, billable, source, "
            "created_at, updated_at) VALUES (1, 999999, :now, :notes, true, 'manual', :now, :now)"),
            {"notes": NOTE, "now": datetime.now(timezone.utc).replace(tzinfo=None)})
        db.session.commit()
        return "unreachable"

    return app


def test_the_engine_hides_parameters(app):
    with app.app_context():
        assert db.engine.hide_parameters is True


def test_database_errors_in_app_jsonl_carry_no_parameters_or_values(app_factory, tmp_path):
    app = _failing_app(app_factory)
    client = app.test_client()
    assert client.get("/_test/duplicate-client").status_code == 500
    assert client.get("/_test/bad-entry").status_code == 500
    lines = read_log_lines(tmp_path / "logs")
    errors = [line for line in lines if line["level"] == "ERROR"]
    assert len(errors) == 2, lines
    assert all("IntegrityError" in line["exc_info"] for line in errors)
    raw = (tmp_path / "logs" / "app.jsonl").read_text()
    assert NOTE not in raw and NAME not in raw


def test_database_errors_in_sentry_events_carry_no_parameters_or_values(
        app_factory, sentry_receiver):
    app = _failing_app(app_factory, SENTRY_DSN=sentry_receiver.dsn)
    client = app.test_client()
    assert client.get("/_test/duplicate-client").status_code == 500
    assert client.get("/_test/bad-entry").status_code == 500
    sentry_sdk.flush(timeout=10)
    wait_for(lambda: len(sentry_receiver.events()) >= 2, timeout=10, interval=0.05)
    events = [e for e in sentry_receiver.events() if "IntegrityError" in json.dumps(e)]
    assert len(events) >= 2, sentry_receiver.events()
    raw = b"\n".join(sentry_receiver.bodies).decode("utf-8")
    assert NOTE not in raw and NAME not in raw


def test_the_scrubber_removes_parameters_and_detail_lines_from_any_message():
    """What an engine without hide_parameters (another app, an old pool) would write."""
    message = (
        "(psycopg.errors.UniqueViolation) duplicate key value violates unique constraint\n"
        f"DETAIL:  Key (name)=({NAME}) already exists.\n"
        "[SQL: INSERT INTO clients (name) VALUES (%(name)s)]\n"
        f"[parameters: {{'name': '{NAME}', 'notes': 'a ] tricky\\n{NOTE}'}}]\n"
        "(Background on this error at: https://sqlalche.me/e/20/gkpj)"
    )
    scrubbed = scrub_database_values(message)
    assert NAME not in scrubbed and NOTE not in scrubbed
    assert "[SQL: INSERT INTO clients" in scrubbed and "Background on this error" in scrubbed
    assert scrub_database_values("Failing row contains (1, secret).") == "Failing row contains: [redacted]"
