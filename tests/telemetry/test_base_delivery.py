"""Base events as an operator meets them: headless ``flask setup``, real gunicorn, a real sink.

Everything here runs as separate processes (the CLI, a 3-worker gunicorn with its
scheduler) against the OTLP receiver in this process, on a SQLite copy of the
migrated template. A delivery counts only when the receiver acknowledged it: the
settings row and installation.json say ``first_seen_sent_at`` after that, never
before, and the lease in the row lets one process of all of them send.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from app.telemetry.client import FIRST_SEEN, HEARTBEAT, HEARTBEAT_HOUR_UTC
from tests.support import free_port
from tests.support.gunicorn import gunicorn_env, run_setup, serving
from tests.support.otlp import start_receiver
from tests.support.polling import wait_for

pytestmark = pytest.mark.slow

WORKERS = 3
INTERVAL_SECONDS = 1


@pytest.fixture
def database(sqlite_template, tmp_path) -> Path:
    path = tmp_path / "timetracker.db"
    shutil.copy(sqlite_template, path)
    return path


def _env(tmp_path: Path, database: Path, endpoint: str, **settings: str) -> dict[str, str]:
    return gunicorn_env(tmp_path, database, workers=WORKERS, TELEMETRY_DISABLED="false",
                        GRAFANA_OTLP_ENDPOINT=endpoint, TELEMETRY_BATCH_DELAY_MS="100",
                        TELEMETRY_EXPORT_TIMEOUT_SECONDS="1", **settings)


def _server_env(env: dict[str, str]) -> dict[str, str]:
    """The same install served by gunicorn, its scheduler on and trying every second."""
    return dict(env, SCHEDULER_ENABLED="true", TELEMETRY_BASE_INTERVAL_SECONDS=str(INTERVAL_SECONDS),
                PROMETHEUS_MULTIPROC_DIR=env["DATA_DIR"] + "/prom")


def _row(database: Path) -> dict:
    with sqlite3.connect(database) as conn:
        conn.row_factory = sqlite3.Row
        row = conn.execute("SELECT install_id, first_seen_sent_at, first_seen_claimed_until, "
                           "last_heartbeat_day FROM settings WHERE id = 1").fetchone()
        return dict(row)


def _file(env: dict[str, str]) -> dict:
    return json.loads((Path(env["DATA_DIR"]) / "installation.json").read_text())


def _boots(tmp_path: Path) -> int:
    return (tmp_path / "gunicorn.out").read_text().count("Booting worker")


def _apps_started(tmp_path: Path) -> int:
    # Each worker logs its telemetry layers once its app exists (after the start-up try);
    # "Booting worker" comes at the fork, seconds before that on a busy machine.
    return (tmp_path / "gunicorn.out").read_text().count('"message": "telemetry.layers"')


def _watch(tmp_path: Path, started_before: int) -> None:
    """Let every worker of this start build its app (which tries what is due) and run two
    scheduler rounds.

    Proving that nothing more arrives needs time to pass; this is the one wait on the
    clock: two scheduler intervals once all workers are up.
    """
    assert wait_for(lambda: _apps_started(tmp_path) >= started_before + WORKERS, timeout=30), \
        (tmp_path / "gunicorn.out").read_text()[-3000:]
    time.sleep(2 * INTERVAL_SECONDS + 0.5)  # nothing more arriving is shown only by time passing


def test_headless_setup_with_the_sink_up_delivers_first_seen_before_it_exits(
        tmp_path, database, otlp_receiver):
    env = _env(tmp_path, database, otlp_receiver.url)
    done = run_setup(env)
    assert "base telemetry: first_seen delivered." in done.stdout, done.stdout + done.stderr
    # The CLI waited for the receiver's answer: it is there now, without any waiting here.
    assert otlp_receiver.names() == [FIRST_SEEN]
    row = _row(database)
    assert row["first_seen_sent_at"] is not None and row["first_seen_claimed_until"] is None
    stored = _file(env)
    assert stored["first_seen_sent_at"] is not None
    assert stored["install_id"] == row["install_id"]
    record = otlp_receiver.records[0]
    assert record["resource"]["timetracker.install_id"] == row["install_id"]
    assert record["attributes"]["first_seen_at"] == stored["first_seen_sent_at"]


def test_first_seen_refused_at_setup_goes_out_exactly_once_across_three_workers_and_a_restart(
        tmp_path, database, otlp_receiver):
    refused = start_receiver("refused")
    env = _env(tmp_path, database, refused.url)
    done = run_setup(env)
    assert "first_seen not delivered yet" in done.stdout, done.stdout + done.stderr
    row = _row(database)
    assert (row["first_seen_sent_at"], row["first_seen_claimed_until"]) == (None, None)
    assert _file(env)["first_seen_sent_at"] is None

    server = _server_env(dict(env, GRAFANA_OTLP_ENDPOINT=otlp_receiver.url))
    heartbeat_due = datetime.now(timezone.utc).hour >= HEARTBEAT_HOUR_UTC
    with serving(server, tmp_path, timeout=30):
        assert wait_for(lambda: FIRST_SEEN in otlp_receiver.names(), timeout=15)
        if heartbeat_due:  # today's heartbeat follows once first_seen is acknowledged
            assert wait_for(lambda: HEARTBEAT in otlp_receiver.names(), timeout=15)
        _watch(tmp_path, 0)
    assert otlp_receiver.names().count(FIRST_SEEN) == 1
    assert _row(database)["first_seen_sent_at"] is not None
    assert _file(env)["first_seen_sent_at"] is not None

    with serving(dict(server, PORT=str(free_port())), tmp_path, timeout=30):  # a restart
        _watch(tmp_path, WORKERS)
    assert otlp_receiver.names().count(FIRST_SEEN) == 1
    # Before 03:00 UTC no heartbeat is due yet: then the day's heartbeat across processes is
    # proven by test_base_telemetry.py::test_heartbeat_exactly_once_per_day_with_three_processes
    # (send_due_base_events(now=...) in three processes).
    assert otlp_receiver.names().count(HEARTBEAT) == (1 if heartbeat_due else 0)
    if heartbeat_due:
        assert _row(database)["last_heartbeat_day"] == datetime.now(timezone.utc).date().isoformat()
    assert _boots(tmp_path) == 2 * WORKERS


def test_headless_setup_next_to_a_running_server_gets_first_seen_out_within_a_minute(
        tmp_path, database, otlp_receiver):
    env = _env(tmp_path, database, otlp_receiver.url)
    with serving(_server_env(env), tmp_path, timeout=30):
        # The sink fails while the CLI runs, so its own bounded flush cannot deliver...
        otlp_receiver.mode = "error500"
        done = run_setup(env)
        assert "first_seen not delivered yet" in done.stdout, done.stdout + done.stderr
        assert _row(database)["first_seen_sent_at"] is None
        # ...and is back once it has exited: the running server sends it.
        otlp_receiver.mode = "ok"
        assert wait_for(lambda: FIRST_SEEN in otlp_receiver.names(), timeout=60)
        assert wait_for(lambda: _row(database)["first_seen_sent_at"] is not None, timeout=10)
    # Once across workers and restarts is the test above; here: one, from the server.
    assert otlp_receiver.names().count(FIRST_SEEN) == 1
