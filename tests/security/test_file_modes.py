"""Item 11: the SQLite database (and its WAL files) is created 0600 (it holds password and
token hashes; the session key now lives in it, see app/services/secret_key.py)."""

from __future__ import annotations

import os
import stat

from flask_migrate import upgrade

from app import create_app
from app.extensions import db


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_a_new_sqlite_database_and_its_wal_files_are_private(tmp_path):
    old_umask = os.umask(0o022)  # the usual umask, whatever the test runner has
    try:
        path = tmp_path / "data" / "timetracker.db"
        app = create_app({"TESTING": True, "DATA_DIR": str(tmp_path / "data"),
                          "LOG_DIR": str(tmp_path / "logs"),
                          "SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}"})
        with app.app_context():
            upgrade()
            with db.engine.connect() as conn:  # WAL mode: -wal and -shm exist while open
                conn.exec_driver_sql("SELECT count(*) FROM users").scalar()
                assert _mode(path) == 0o600
                for suffix in ("-wal", "-shm"):
                    side = path.with_name(path.name + suffix)
                    assert _mode(side) == 0o600, suffix
            db.engine.dispose()
        assert not (tmp_path / "data" / "secret_key").exists()  # the key is in the database
    finally:
        os.umask(old_umask)
