"""A real Prometheus, with the shipped prometheus.yml, scraping two real replicas (two
gunicorn instances, their own DATA_DIR and metrics directory, one PostgreSQL): each
replica's request counters stay its own, and the dashboard's queries give the true
number of running timers and of users, not twice it."""

from __future__ import annotations

import json
import urllib.request

import pytest

from tests.conftest import reset_postgres
from tests.deploy.conftest import REPO, require_tool
from tests.deploy.test_prometheus_live import WAIT_SECONDS, _target, running_prometheus
from tests.support.polling import wait_for
from tests.support.replicas import create_token, two_replicas

pytestmark = pytest.mark.slow

METRICS_TOKEN = "replicas-metrics-token"
HEALTHZ = {"a": 7, "b": 11}


def _panel_expr(title: str) -> str:
    dashboard = json.loads((REPO / "grafana/dashboards/timetracker.json").read_text())
    (expr,) = [target["expr"] for panel in dashboard["panels"] if panel["title"] == title
               for target in panel["targets"]]
    return expr


def _values(server, expr: str, label: str | None = None) -> dict:
    return {series["metric"].get(label) if label else None: float(series["value"][1])
            for series in server.query(expr)["result"]}


def test_prometheus_sees_each_replica_and_the_true_number_of_active_timers(postgres_url, tmp_path):
    binary = require_tool("prometheus", "Debian package prometheus")
    reset_postgres(postgres_url)
    try:
        with two_replicas(tmp_path, postgres_url, METRICS_TOKEN=METRICS_TOKEN) as (a, b):
            token = create_token(a)
            status, project = a.api("POST", "/projects", token, {"name": "Website"})
            assert status == 201, project
            status, entry = b.api("POST", "/timer/start", token, {"project_id": project["id"]})
            assert status == 201, entry  # one timer runs, started through B
            for replica in (a, b):
                for _ in range(HEALTHZ[replica.name]):
                    with urllib.request.urlopen(f"{replica.url}/healthz", timeout=5) as response:
                        assert response.status == 200
            instances = {_target(a.url): "a", _target(b.url): "b"}
            with running_prometheus(binary, list(instances), tmp_path, METRICS_TOKEN) as server:
                def up_and_healthz():
                    return (_values(server, 'up{job="timetracker"}', "instance"),
                            _values(server, 'sum by (instance) (tt_requests_total'
                                            '{job="timetracker", endpoint="/healthz"})', "instance"))

                def both_scraped() -> bool:
                    up, healthz = up_and_healthz()
                    return up == {i: 1.0 for i in instances} and len(healthz) == 2

                assert wait_for(both_scraped, timeout=WAIT_SECONDS, interval=0.25), up_and_healthz()
                healthz = up_and_healthz()[1]
                # Each replica's own counter, neither wiped nor summed with the other's.
                assert {instances[i]: v for i, v in healthz.items()} == {"a": 7.0, "b": 11.0}
                # Both replicas report the database's count; the dashboard must not add them up.
                per_replica = _values(server, "tt_active_timers", "instance")
                assert sorted(per_replica.values()) == [1.0, 1.0]
                assert _values(server, _panel_expr("Active timers")) == {None: 1.0}
                assert _values(server, _panel_expr("Users by role"), "role") == \
                    {"admin": 1.0, "user": 0.0}
    finally:
        reset_postgres(postgres_url)
