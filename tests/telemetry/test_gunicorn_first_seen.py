"""first_seen exactly once across a 3-worker gunicorn and a restart of it."""

from __future__ import annotations

import shutil

import pytest

from tests.support.gunicorn import free_port, gunicorn_env, run_setup, serving

WORKERS = 3

pytestmark = pytest.mark.slow


def test_first_seen_once_across_three_gunicorn_workers_and_a_restart(sqlite_template, tmp_path,
                                                                    otlp_receiver):
    database = tmp_path / "timetracker.db"
    shutil.copy(sqlite_template, database)
    env = gunicorn_env(tmp_path, database, workers=WORKERS,
                       PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "prom"))
    # Setup happens with telemetry off, so first_seen is still due when the workers start.
    run_setup(env)
    assert otlp_receiver.requests == []
    env.update({"TELEMETRY_DISABLED": "false", "GRAFANA_OTLP_ENDPOINT": otlp_receiver.url})
    for port in (env["PORT"], str(free_port())):  # a start, then a restart on a new port
        with serving(dict(env, PORT=port), tmp_path):
            pass
    assert otlp_receiver.names() == ["base_telemetry.first_seen"]
    log = (tmp_path / "gunicorn.out").read_text()
    assert log.count("Booting worker") == 2 * WORKERS
