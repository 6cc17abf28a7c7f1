"""The migrations build the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from app.extensions import db


def test_migrated_database_matches_the_models(app):
    """Fails when a model changes without a migration (or the reverse)."""
    with app.app_context():
        with db.engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"compare_type": True, "render_as_batch": True}
            )
            diff = compare_metadata(context, db.metadata)
    assert diff == [], f"models and migrations drifted apart: {diff}"


def test_migrations_create_every_table_and_the_settings_row(app):
    with app.app_context():
        tables = set(inspect(db.engine).get_table_names())
        assert {"users", "clients", "projects", "tasks", "time_entries", "settings"} <= tables
        from app.models import Settings

        settings = db.session.get(Settings, 1)
        assert settings.allow_analytics is None  # not asked yet
        assert settings.setup_completed_at is None


@pytest.mark.slow
def test_replicas_starting_together_migrate_a_new_postgresql_database_once(tmp_path):
    """Every replica runs `flask db upgrade` at start (the image's CMD); started together on
    a new database, none may fail (a failed one would restart-loop) and the schema is built
    once."""
    import subprocess
    import sys
    import uuid

    import psycopg

    from tests.conftest import PG_ADMIN_DSN, _postgres_reachable, require_or_skip
    from tests.support.gunicorn import ROOT, gunicorn_env

    require_or_skip(_postgres_reachable(), f"PostgreSQL not reachable at {PG_ADMIN_DSN}")
    name = f"tt_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN_DSN.rsplit("/", 1)[0] + f"/{name}"
    try:
        processes = []
        for replica in ("a", "b", "c"):
            (tmp_path / replica).mkdir()
            env = gunicorn_env(tmp_path / replica, url, workers=1)
            processes.append(subprocess.Popen(
                [sys.executable, "-m", "flask", "--app", "app", "db", "upgrade"], env=env, cwd=ROOT,
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
        outputs = [process.communicate(timeout=120)[0] for process in processes]
        assert [process.returncode for process in processes] == [0, 0, 0], "\n".join(outputs)
        with psycopg.connect(url) as conn:
            versions = conn.execute("SELECT version_num FROM alembic_version").fetchall()
            settings_rows = conn.execute("SELECT count(*) FROM settings").fetchone()[0]
        from alembic.script import ScriptDirectory

        from app import MIGRATIONS_DIR

        assert versions == [(ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head(),)]
        assert settings_rows == 1
        assert sum("Running upgrade  -> 0001_initial" in output for output in outputs) == 1
    finally:
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
