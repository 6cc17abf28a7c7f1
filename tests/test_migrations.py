"""The migrations build the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

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
