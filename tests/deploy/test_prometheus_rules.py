"""promtool, Prometheus's own checker: the config, the rules, the rules' unit tests."""

from __future__ import annotations

import shutil
import subprocess

from tests.deploy.conftest import REPO, load_yaml, require_tool


def promtool(*args: str, cwd=REPO):
    binary = require_tool("promtool", "Debian package prometheus")
    return subprocess.run([binary, *args], capture_output=True, text=True, timeout=60, cwd=cwd)


def test_promtool_accepts_the_config_as_laid_out_in_the_container(tmp_path):
    # /etc/prometheus in the container: the two repo files plus the token file
    # the compose entrypoint writes (promtool checks that it exists).
    for name in ("prometheus.yml", "alerts.yml"):
        shutil.copy(REPO / "prometheus" / name, tmp_path / name)
    (tmp_path / "metrics_token").write_text("")
    result = promtool("check", "config", str(tmp_path / "prometheus.yml"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_promtool_accepts_the_alert_rules():
    result = promtool("check", "rules", "prometheus/alerts.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_unit_tests_cover_every_alert_and_pass():
    rules = load_yaml("prometheus/alerts.yml")
    alerts = {rule["alert"] for group in rules["groups"] for rule in group["rules"]}
    tests = load_yaml("prometheus/alerts_test.yml")["tests"]
    fired, quiet = set(), set()
    for case in tests:
        for check in case.get("alert_rule_test", []):
            (fired if check["exp_alerts"] else quiet).add(check["alertname"])
    assert alerts == fired == quiet, "every rule needs a firing and a quiet case"
    result = promtool("test", "rules", "prometheus/alerts_test.yml")
    assert result.returncode == 0, result.stdout + result.stderr


# Gauges every replica computes from the one shared database: each reports the whole count.
DATABASE_GAUGES = ("tt_active_timers", "tt_users")


def _expressions_using(names) -> list[tuple[str, str]]:
    import json
    import re

    dashboard = json.loads((REPO / "grafana/dashboards/timetracker.json").read_text())
    found = [(panel["title"], target["expr"]) for panel in dashboard["panels"]
             for target in panel.get("targets", []) if "expr" in target]
    rules = load_yaml("prometheus/alerts.yml")
    found += [(rule["alert"], rule["expr"]) for group in rules["groups"] for rule in group["rules"]]
    pattern = re.compile(r"\b(" + "|".join(names) + r")\b")
    return [(title, expr) for title, expr in found if pattern.search(expr)]


def test_database_gauges_are_never_summed_over_replicas():
    import re

    using = _expressions_using(DATABASE_GAUGES)
    assert {title for title, _ in using} >= {"Active timers", "Users by role"}
    for title, expr in using:
        for name in DATABASE_GAUGES:
            for match in re.finditer(rf"\b{name}\b", expr):
                before = expr[:match.start()].rstrip()
                assert re.search(r"\bmax(\s+by\s*\([^)]*\))?\s*\($", before), \
                    f"{title}: {name} must be aggregated with max(), not {expr!r}"


def test_the_dashboard_gives_the_true_counts_for_two_replicas(tmp_path):
    """promtool evaluates the dashboard's own expressions over two replicas' series."""
    import yaml

    using = dict(_expressions_using(DATABASE_GAUGES))
    series = []
    for instance in ("10.0.0.2:8000", "10.0.0.3:8000"):  # both see the same database
        labels = f'job="timetracker", instance="{instance}"'
        series += [{"series": f"tt_active_timers{{{labels}}}", "values": "3x5"},
                   {"series": f'tt_users{{{labels}, role="admin"}}', "values": "1x5"},
                   {"series": f'tt_users{{{labels}, role="user"}}', "values": "4x5"}]
    (tmp_path / "rules.yml").write_text("groups: []\n")
    (tmp_path / "test.yml").write_text(yaml.safe_dump({
        "rule_files": ["rules.yml"],
        "evaluation_interval": "1m",
        "tests": [{
            "interval": "1m",
            "input_series": series,
            "promql_expr_test": [
                {"expr": using["Active timers"], "eval_time": "2m",
                 "exp_samples": [{"labels": "{}", "value": 3}]},
                {"expr": using["Users by role"], "eval_time": "2m",
                 "exp_samples": [{"labels": '{role="admin"}', "value": 1},
                                 {"labels": '{role="user"}', "value": 4}]},
            ],
        }],
    }))
    result = promtool("test", "rules", "test.yml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
