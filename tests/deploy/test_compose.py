"""docker-compose accepts the stack, and its names, ports and paths agree with
the config files (Prometheus, Grafana, Loki, Promtail, the Dockerfile).

No Docker engine runs here: ``docker-compose config`` validates and resolves
the files (profiles and overlays included) without one. The tests use an env
file of their own, never the operator's ``.env``, and a scrubbed environment.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import require_or_skip
from tests.deploy.conftest import REPO, compose_command, load_yaml

BASE = "docker-compose.yml"
ANALYTICS = "docker-compose.analytics.yml"
TEST_ENV = {
    "POSTGRES_PASSWORD": "compose-test-db-password",
    "GRAFANA_ADMIN_PASSWORD": "compose-test-grafana-password",
    "METRICS_TOKEN": "compose-test-metrics-token",
    "GRAFANA_OTLP_ENDPOINT": "https://otlp.example.invalid/otlp",
}


def compose(tmp_path: Path, *args: str, files=(BASE,), env: dict | None = None,
            env_text: str | None = None):
    base = compose_command()
    require_or_skip(base is not None, "neither docker-compose (Debian package) nor docker compose")
    env_file = tmp_path / "compose.env"
    if env_text is None:
        env_text = "".join(f"{key}={value}\n" for key, value in (env or TEST_ENV).items())
    env_file.write_text(env_text)
    command = [*base, "--env-file", str(env_file)]
    for name in files:
        command += ["-f", str(REPO / name)]
    clean_env = {key: os.environ[key] for key in ("PATH", "HOME", "LANG") if key in os.environ}
    return subprocess.run(command + list(args), capture_output=True, text=True, timeout=60,
                          cwd=REPO, env=clean_env)


@pytest.mark.parametrize("profiles, files", [
    ((), (BASE,)),
    (("monitoring",), (BASE,)),
    (("logging",), (BASE,)),
    (("monitoring", "logging"), (BASE,)),
    ((), (BASE, ANALYTICS)),
    (("monitoring", "logging"), (BASE, ANALYTICS)),
    (("replicas", "monitoring"), (BASE,)),
], ids=["base", "monitoring", "logging", "full-stack", "analytics", "analytics-full-stack",
        "replicas"])
def test_docker_compose_accepts_the_stack(tmp_path, profiles, files):
    args = [arg for profile in profiles for arg in ("--profile", profile)]
    result = compose(tmp_path, *args, "config", "-q", files=files)
    assert result.returncode == 0, result.stderr


def test_no_default_database_password_and_no_open_metrics_with_analytics(tmp_path):
    missing_db = compose(tmp_path, "config", "-q", env={"GRAFANA_ADMIN_PASSWORD": "x"})
    assert missing_db.returncode != 0 and "POSTGRES_PASSWORD" in missing_db.stderr
    env = dict(TEST_ENV, METRICS_TOKEN="")
    missing_token = compose(tmp_path, "config", "-q", files=(BASE, ANALYTICS), env=env)
    assert missing_token.returncode != 0 and "METRICS_TOKEN" in missing_token.stderr


@pytest.fixture(scope="module")
def resolved(tmp_path_factory) -> dict:
    """The full stack with the analytics overlay, as docker-compose resolves it."""
    tmp_path = tmp_path_factory.mktemp("compose")
    result = compose(tmp_path, "--profile", "monitoring", "--profile", "logging", "config",
                     files=(BASE, ANALYTICS))
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)["services"]


def _mounts(service: dict) -> dict[str, str]:
    """Container path -> source (volume name or absolute host path)."""
    mounts = {}
    for volume in service.get("volumes", []):
        if isinstance(volume, dict):
            mounts[volume["target"]] = volume["source"]
        else:
            source, target = volume.split(":")[:2]
            mounts[target] = source
    return mounts


def _port(service: dict) -> set[int]:
    ports = set()
    for port in service.get("ports", []):
        ports.add(int(port["target"]) if isinstance(port, dict) else int(str(port).split(":")[-1].split("/")[0]))
    return ports


def test_every_service_image_is_pinned(resolved):
    for name, service in resolved.items():
        if name == "app":
            continue  # built from this repo
        image = service["image"]
        assert ":" in image and not image.endswith(":latest"), f"{name}: {image}"


def test_profiles_split_the_stack(resolved):
    profiles = {name: tuple(service.get("profiles", ())) for name, service in resolved.items()}
    assert profiles == {"app": (), "db": (), "prometheus": ("monitoring",), "grafana": ("monitoring",),
                        "loki": ("logging",), "promtail": ("logging",), "redis": ("replicas",)}
    assert resolved["app"]["depends_on"]["db"]["condition"] == "service_healthy"
    assert "healthcheck" in resolved["db"]


def test_prometheus_scrapes_the_app_service_with_the_shared_token(resolved):
    config = load_yaml("prometheus/prometheus.yml")
    (job,) = [job for job in config["scrape_configs"] if job["job_name"] == "timetracker"]
    # Every replica of the app service, found through Docker's DNS (one A record each).
    (discovery,) = job["dns_sd_configs"]
    (host,), port = discovery["names"], discovery["port"]
    assert discovery["type"] == "A"
    assert host in resolved and int(port) in _port(resolved[host])
    dockerfile = (REPO / "Dockerfile").read_text()
    assert f"PORT={port}" in dockerfile and f"EXPOSE {port}" in dockerfile
    assert job["metrics_path"] == "/metrics"
    # The token file is relative to prometheus.yml, i.e. /etc/prometheus/<file>, and the
    # entrypoint writes it there from the same METRICS_TOKEN the app gets.
    token_file = job["authorization"]["credentials_file"]
    prometheus = resolved["prometheus"]
    assert f"/etc/prometheus/{token_file}" in " ".join(prometheus["entrypoint"])
    assert prometheus["environment"]["METRICS_TOKEN"] == resolved["app"]["environment"]["METRICS_TOKEN"]
    mounts = _mounts(prometheus)
    assert mounts["/etc/prometheus/prometheus.yml"] == str(REPO / "prometheus/prometheus.yml")
    for rule_file in config["rule_files"]:
        assert mounts[f"/etc/prometheus/{rule_file}"] == str(REPO / "prometheus" / rule_file)


def test_grafana_datasources_and_dashboards_point_at_the_services(resolved):
    datasources = load_yaml("grafana/provisioning/datasources/datasources.yml")["datasources"]
    by_uid = {source["uid"]: source for source in datasources}
    assert by_uid["prometheus"]["url"] == "http://prometheus:9090" and 9090 in _port(resolved["prometheus"])
    loki_port = load_yaml("loki/loki-config.yml")["server"]["http_listen_port"]
    assert by_uid["loki"]["url"] == f"http://loki:{loki_port}" and loki_port in _port(resolved["loki"])
    mounts = _mounts(resolved["grafana"])
    assert mounts["/etc/grafana/provisioning"] == str(REPO / "grafana/provisioning")
    (provider,) = load_yaml("grafana/provisioning/dashboards/timetracker.yml")["providers"]
    assert mounts[provider["options"]["path"]] == str(REPO / "grafana/dashboards")
    dashboard = json.loads((REPO / "grafana/dashboards/timetracker.json").read_text())
    used = {panel["datasource"]["uid"] for panel in dashboard["panels"] if "datasource" in panel}
    used |= {target["datasource"]["uid"] for panel in dashboard["panels"]
             for target in panel.get("targets", [])}
    assert used == set(by_uid)
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            assert target["datasource"]["type"] == by_uid[target["datasource"]["uid"]]["type"]
    # Never Grafana's admin/admin: the entrypoint refuses an empty password.
    grafana = resolved["grafana"]
    assert grafana["environment"]["GF_SECURITY_ADMIN_PASSWORD"] == TEST_ENV["GRAFANA_ADMIN_PASSWORD"]
    assert "GF_SECURITY_ADMIN_PASSWORD" in " ".join(grafana["entrypoint"])


def test_promtail_reads_the_apps_log_volume_and_pushes_to_loki(resolved):
    config = load_yaml("promtail/promtail-config.yml")
    (client,) = config["clients"]
    loki_port = load_yaml("loki/loki-config.yml")["server"]["http_listen_port"]
    assert client["url"] == f"http://loki:{loki_port}/loki/api/v1/push"
    (job,) = config["scrape_configs"]
    log_dir = str(Path(job["static_configs"][0]["labels"]["__path__"]).parent)
    app_volume = _mounts(resolved["app"])[log_dir]
    assert _mounts(resolved["promtail"])[log_dir] == app_volume  # the same named volume
    positions_dir = str(Path(config["positions"]["filename"]).parent)
    assert positions_dir in _mounts(resolved["promtail"])


def test_loki_keeps_its_data_in_its_volume():
    config = load_yaml("loki/loki-config.yml")
    assert config["common"]["path_prefix"] == "/loki"
    assert config["analytics"]["reporting_enabled"] is False


def test_analytics_overlay_configures_the_same_app_at_runtime_only(resolved):
    environment = resolved["app"]["environment"]
    assert environment["GRAFANA_OTLP_ENDPOINT"] == TEST_ENV["GRAFANA_OTLP_ENDPOINT"]
    for key in ("GRAFANA_OTLP_TOKEN", "SENTRY_DSN", "METRICS_TOKEN"):
        assert key in environment
    build_args = resolved["app"]["build"].get("args", {})
    assert set(build_args) <= {"APP_VERSION", "RELEASE_CHANNEL"}


def _compose_variables() -> set[str]:
    text = (REPO / BASE).read_text() + (REPO / ANALYTICS).read_text()
    return set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", text))


def test_env_example_and_the_docs_cover_every_compose_variable():
    env_example = (REPO / "env.example").read_text()
    listed = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", env_example, re.MULTILINE))
    assert _compose_variables() - listed == set()
    docs = (REPO / "docs/deployment.md").read_text() + (REPO / "docs/configuration.md").read_text()
    assert {name for name in _compose_variables() if f"`{name}`" not in docs} == set()


def test_env_example_copied_to_env_runs_the_whole_stack(tmp_path):
    """The operator's path: cp env.example .env, fill in the required secrets."""
    text = (REPO / "env.example").read_text()
    for key, value in TEST_ENV.items():
        text, count = re.subn(rf"^{key}=.*$", f"{key}={value}", text, flags=re.MULTILINE)
        assert count == 1, key
    result = compose(tmp_path, "--profile", "monitoring", "--profile", "logging", "config", "-q",
                     files=(BASE, ANALYTICS), env_text=text)
    assert result.returncode == 0, result.stderr
    untouched = compose(tmp_path, "config", "-q", env_text=(REPO / "env.example").read_text())
    assert untouched.returncode != 0 and "POSTGRES_PASSWORD" in untouched.stderr


def test_the_replicas_profile_gives_n_replicas_a_port_range_and_shared_limiter_counters(tmp_path):
    """docs/deployment.md, "Running several replicas", as compose resolves it."""
    env = dict(TEST_ENV, APP_REPLICAS="3", APP_PORT="8000-8002",
               RATELIMIT_STORAGE_URI="redis://redis:6379/0")
    result = compose(tmp_path, "--profile", "replicas", "config", env=env)
    assert result.returncode == 0, result.stderr
    services = yaml.safe_load(result.stdout)["services"]
    app = services["app"]
    assert app["deploy"]["replicas"] == 3
    (port,) = app["ports"]
    published = port["published"] if isinstance(port, dict) else str(port).split(":")[1]
    assert str(published) == "8000-8002"
    uri = app["environment"]["RATELIMIT_STORAGE_URI"]
    host, redis_port = uri.removeprefix("redis://").split("/")[0].split(":")
    assert host == "redis" and services[host]["profiles"] == ["replicas"]
    assert redis_port == "6379" and "ports" not in services["redis"]  # not published on the host
    assert "healthcheck" in services["redis"]
    # Without the profile nothing changes: one replica, per-process counters.
    single = yaml.safe_load(compose(tmp_path, "config").stdout)["services"]["app"]
    assert single["deploy"]["replicas"] == 1
    assert single["environment"]["RATELIMIT_STORAGE_URI"] == "memory://"
