"""The real Prometheus scrapes the real app with the repo's prometheus.yml, and
every PromQL expression of the Grafana dashboard and the alert rules is
evaluated through its HTTP API.

The config is used as shipped; only what a test has to change is changed: the
app target (127.0.0.1 instead of the compose service ``app``), the self-scrape
target, and the intervals (1 s instead of 15 s, so the test needs seconds, not
minutes). The files are laid out as in the container (``/etc/prometheus``):
prometheus.yml, alerts.yml and the ``metrics_token`` file the compose
entrypoint writes from METRICS_TOKEN, so the bearer-token path is exercised.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
from contextlib import contextmanager

import pytest
import requests
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.deploy.conftest import REPO, generate_traffic, load_yaml, require_tool, running_app
from tests.support import free_port
from tests.support.polling import wait_for

pytestmark = pytest.mark.slow

METRICS_TOKEN = "deploy-test-metrics-token"
WAIT_SECONDS = 30  # Prometheus's first scrape takes ~6 s here; generous for CI
# Grafana's macros, replaced the way Grafana would for a short time range.
GRAFANA_MACROS = {"$__rate_interval": "1m", "$__range": "5m", "$__interval": "1s"}
# Metrics another part of the app only exposes once it has something to count.
OPTIONAL_PREFIX = "tt_telemetry_"
METRIC_NAME = re.compile(r"\b(tt_[a-z0-9_]+|up)\b")


def _dashboard_queries() -> list[tuple[str, str]]:
    """(panel title, expr) for every Prometheus target of the dashboard."""
    dashboard = json.loads((REPO / "grafana/dashboards/timetracker.json").read_text())
    queries = []
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            if target.get("datasource", panel.get("datasource", {})).get("type") == "prometheus":
                queries.append((panel["title"], target["expr"]))
    return queries


def _alert_queries() -> list[tuple[str, str]]:
    rules = load_yaml("prometheus/alerts.yml")
    return [(rule["alert"], rule["expr"]) for group in rules["groups"] for rule in group["rules"]]


def _expand(expr: str) -> str:
    for macro, value in GRAFANA_MACROS.items():
        expr = expr.replace(macro, value)
    assert "$" not in expr, f"unexpanded Grafana variable in {expr!r}"
    return expr


class PrometheusServer:
    def __init__(self, url: str):
        self.url = url

    def query(self, expr: str) -> dict:
        response = requests.get(f"{self.url}/api/v1/query", params={"query": expr}, timeout=10)
        body = response.json()
        assert response.status_code == 200 and body["status"] == "success", \
            f"{expr!r}: {response.status_code} {body.get('errorType')}: {body.get('error')}"
        return body["data"]

    def scrapes_so_far(self) -> int:
        result = self.query('count_over_time(up{job="timetracker"}[10m])')["result"]
        return int(float(result[0]["value"][1])) if result else 0

    def wait_for_scrape(self, more_than: int) -> int:
        """The count of scrapes once it is above ``more_than``."""
        if not wait_for(lambda: self.scrapes_so_far() > more_than, timeout=WAIT_SECONDS,
                        interval=0.25):
            pytest.fail(f"Prometheus did not scrape the app within {WAIT_SECONDS} s")
        return self.scrapes_so_far()


@pytest.fixture(scope="module")
def prometheus(sqlite_template, tmp_path_factory):
    """Prometheus scraping a live app (METRICS_TOKEN set), after traffic between two scrapes."""
    binary = require_tool("prometheus", "Debian package prometheus")
    tmp_path = tmp_path_factory.mktemp("prometheus-live")
    # A telemetry sink on a closed local port: base telemetry's first_seen export fails
    # and is counted, so the telemetry panels have series to show (nothing leaves 127.0.0.1).
    with running_app(sqlite_template, tmp_path / "app", METRICS_TOKEN=METRICS_TOKEN,
                     GRAFANA_OTLP_ENDPOINT=f"http://127.0.0.1:{free_port()}",
                     TELEMETRY_EXPORT_TIMEOUT_SECONDS=0.5) as live:
        generate_traffic(live.url)
        _wait_for_telemetry_counts(live.url)
        with running_prometheus(binary, [_target(live.url)], tmp_path, METRICS_TOKEN) as server:
            seen = server.wait_for_scrape(0)
            # Traffic between two scrapes, so every rate() has an increase to show.
            generate_traffic(live.url)
            server.wait_for_scrape(max(seen, server.scrapes_so_far()))
            exposition = _metrics_text(live.url)
            server.sampled_metrics = {sample.name for family in text_string_to_metric_families(exposition)
                                      for sample in family.samples}
            yield server


def _target(url: str) -> str:
    return url.removeprefix("http://")


def _metrics_text(url: str) -> str:
    with requests.get(f"{url}/metrics", timeout=10,
                      headers={"Authorization": f"Bearer {METRICS_TOKEN}"}) as response:
        return response.text


def _wait_for_telemetry_counts(url: str) -> None:
    """The background exporter counts its first (failed) export within its timeout."""
    assert wait_for(lambda: "tt_telemetry_events_total{" in _metrics_text(url),
                    timeout=WAIT_SECONDS, interval=0.25), "telemetry never counted an event"


@contextmanager
def running_prometheus(binary: str, targets: list[str], tmp_path, token: str):
    """/usr/bin/prometheus with the repo's config, laid out as /etc/prometheus in the container,
    scraping ``targets`` (host:port) where the container would discover the app's replicas."""
    etc = tmp_path / "etc-prometheus"
    etc.mkdir()
    port = free_port()
    config = load_yaml("prometheus/prometheus.yml")
    config["global"]["scrape_interval"] = "1s"
    config["global"]["scrape_timeout"] = "1s"
    config["global"]["evaluation_interval"] = "1s"
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    # The shipped config discovers the replicas of service `app` through Docker's DNS
    # (dns_sd_configs); here the same job gets the local instances instead.
    assert jobs["timetracker"].pop("dns_sd_configs")[0]["names"] == ["app"]
    jobs["timetracker"]["static_configs"] = [{"targets": targets}]
    jobs["prometheus"]["static_configs"] = [{"targets": [f"127.0.0.1:{port}"]}]
    (etc / "prometheus.yml").write_text(yaml.safe_dump(config))
    shutil.copy(REPO / "prometheus/alerts.yml", etc / "alerts.yml")
    (etc / "metrics_token").write_text(token)  # what the compose entrypoint writes

    log_path = tmp_path / "prometheus.log"
    with log_path.open("w") as log:
        process = subprocess.Popen([
            binary, f"--config.file={etc / 'prometheus.yml'}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ], stdout=log, stderr=subprocess.STDOUT)
        server = PrometheusServer(f"http://127.0.0.1:{port}")
        try:
            def ready() -> bool:
                assert process.poll() is None, log_path.read_text()[-3000:]
                try:
                    return requests.get(f"{server.url}/-/ready", timeout=2).status_code == 200
                except requests.ConnectionError:
                    return False

            assert wait_for(ready, timeout=WAIT_SECONDS, interval=0.25), \
                "Prometheus did not become ready"
            yield server
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)


def _has_number(data: dict) -> bool:
    values = []
    for series in data["result"]:
        values.append(series["value"][1] if "value" in series else series[1])
    return any(not math.isnan(float(value)) for value in values)


def test_prometheus_scrapes_the_app_with_the_bearer_token_file(prometheus):
    up = prometheus.query('up{job="timetracker"}')["result"]
    assert [series["value"][1] for series in up] == ["1"]
    requests_seen = prometheus.query("sum(tt_requests_total)")["result"]
    assert float(requests_seen[0]["value"][1]) >= 10


def test_every_dashboard_query_parses_and_app_panels_show_data(prometheus):
    queries = _dashboard_queries()
    assert len(queries) >= 15
    empty, optional_report = [], []
    for title, expr in queries:
        data = prometheus.query(_expand(expr))
        names = set(METRIC_NAME.findall(expr))
        optional = {name for name in names if name.startswith(OPTIONAL_PREFIX)}
        if optional:
            # Telemetry panels: data exactly when the app exposes samples of their metrics.
            expected = any(name in prometheus.sampled_metrics for name in optional)
            optional_report.append((title, expected, _has_number(data)))
            if expected and not _has_number(data):
                empty.append(title)
        elif not _has_number(data):
            empty.append(title)
    assert not empty, f"panels without data: {empty}"
    # With a sink configured the pipeline counts events, so every telemetry panel was held
    # to "must show data" above.
    assert optional_report and all(sampled for _, sampled, _ in optional_report), optional_report


def test_every_alert_expression_parses_and_names_real_metrics(prometheus):
    queries = _alert_queries()
    assert {name for name, _ in queries} >= {
        "TimeTrackerDown", "TimeTrackerHighErrorRatio", "TimeTrackerSlowRequests",
        "TimeTrackerTelemetryDropped",
    }
    for name, expr in queries:
        prometheus.query(expr)  # parses and evaluates
        for metric in set(METRIC_NAME.findall(expr)) - {"up"}:
            if metric.startswith(OPTIONAL_PREFIX):
                continue  # counted only once telemetry has events (checked by promtool tests)
            assert metric in prometheus.sampled_metrics, f"{name} uses {metric}, which the app does not expose"


def test_the_alert_thresholds_are_quiet_for_a_healthy_app(prometheus):
    firing = prometheus.query('ALERTS{alertstate="firing"}')["result"]
    assert firing == []
    # The left-hand sides evaluate to numbers on real data (the rule is not vacuous).
    assert _has_number(prometheus.query(
        'sum(rate(tt_requests_total{http_status=~"5.."}[1m])) or vector(0)'))
    assert _has_number(prometheus.query(
        "histogram_quantile(0.95, sum by (le) (rate(tt_request_latency_seconds_bucket[1m])))"))


def test_an_empty_token_file_scrapes_an_app_without_metrics_token(sqlite_template, tmp_path):
    """The base compose stack: METRICS_TOKEN unset, so the entrypoint writes an empty file."""
    binary = require_tool("prometheus", "Debian package prometheus")
    with running_app(sqlite_template, tmp_path / "app") as live:
        with running_prometheus(binary, [_target(live.url)], tmp_path, "") as server:
            server.wait_for_scrape(0)
            up = server.query('up{job="timetracker"}')["result"]
            assert [series["value"][1] for series in up] == ["1"]
