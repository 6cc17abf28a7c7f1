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
