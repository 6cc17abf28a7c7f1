"""Item 9: /readyz says 503 when the SQLite database refuses writes; a read-only data folder
stops gunicorn with one clear line instead of a traceback."""

from __future__ import annotations

import subprocess
import sys

import pytest

from app.services.setup import complete_setup
from tests.conftest import ADMIN_PASSWORD
from tests.support.gunicorn import ROOT, gunicorn_env


def test_readyz_is_503_and_writes_are_503_on_a_read_only_sqlite_database(app_factory, tmp_path,
                                                                          db_backend):
    if db_backend != "sqlite":
        # The PostgreSQL variant of the same check: a read-only default transaction.
        app = app_factory()
        with app.app_context():
            complete_setup(admin_username="admin", admin_password=ADMIN_PASSWORD,
                           allow_analytics=False)
        client = app.test_client()
        assert client.get("/readyz").status_code == 200
        ro = app_factory(SQLALCHEMY_ENGINE_OPTIONS={
            "connect_args": {"options": "-c default_transaction_read_only=on"},
            "hide_parameters": True})
        response = ro.test_client().get("/readyz")
        assert response.status_code == 503 and response.get_json()["database"] == "read-only"
        return
    writable = app_factory()
    with writable.app_context():
        complete_setup(admin_username="admin", admin_password=ADMIN_PASSWORD, allow_analytics=False)
    assert writable.test_client().get("/readyz").status_code == 200
    path = writable.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///")
    # The file opened read-only, as SQLite does by itself when the file or its folder
    # is not writable for the process (this test runs as root, which permissions
    # would not stop).
    app = app_factory(SQLALCHEMY_DATABASE_URI=f"sqlite:///file:{path}?mode=ro&uri=true")
    client = app.test_client()
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.get_json() == {"status": "unavailable", "database": "read-only"}
    token = client.csrf_token("/login")
    response = client.post("/login", data={"username": "admin", "password": ADMIN_PASSWORD,
                                           "csrf_token": token})
    assert response.status_code == 503  # the login's write (last_login_at) fails: not a 500


def test_flask_db_upgrade_with_a_read_only_data_folder_says_so_in_one_line(tmp_path):
    """The first step of `make run` and of the container's command."""
    env = gunicorn_env(tmp_path, tmp_path / "x.db", workers=1, DATA_DIR="/sys/timetracker-data")
    result = subprocess.run([sys.executable, "-m", "flask", "--app", "app", "db", "upgrade"],
                            env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    output = (result.stdout + result.stderr).strip()
    assert "Traceback" not in output, output
    assert output.splitlines() == [
        "Error: TimeTracker cannot start: DATA_DIR /sys/timetracker-data is not writable "
        "(Operation not permitted). Point DATA_DIR at a writable folder."], output


def test_gunicorn_with_a_read_only_data_folder_says_so_in_one_line(tmp_path):
    env = gunicorn_env(tmp_path, tmp_path / "x.db", workers=1, DATA_DIR="/sys/timetracker-data")
    result = subprocess.run([sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py"],
                            env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    output = (result.stdout + result.stderr).strip()
    assert "Traceback" not in output, output
    assert output.splitlines() == [
        "TimeTracker cannot start: DATA_DIR /sys/timetracker-data is not writable "
        "(Operation not permitted). Point DATA_DIR at a writable folder."], output
