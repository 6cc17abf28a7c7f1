"""Item 16: `flask setup` (and `create-token`) on a database that was never migrated says
what to do in one line instead of printing a traceback."""

from __future__ import annotations

import subprocess
import sys

from tests.support.gunicorn import ROOT, gunicorn_env


def test_setup_on_an_empty_database_says_to_migrate_first(tmp_path):
    env = gunicorn_env(tmp_path, tmp_path / "never-migrated.db", workers=1)
    for args, stdin in ((["setup", "--admin-username", "admin", "--admin-password-stdin"],
                         "a-long-password\n"), (["create-token", "admin"], "")):
        result = subprocess.run([sys.executable, "-m", "flask", "--app", "app", *args],
                                input=stdin, env=env, cwd=ROOT, capture_output=True, text=True,
                                timeout=60)
        assert result.returncode == 1
        assert "Traceback" not in result.stderr, result.stderr
        assert result.stderr.strip() == (
            "Error: The database has no tables yet: run `make run` or "
            "`flask --app app db upgrade` first."), result.stderr
