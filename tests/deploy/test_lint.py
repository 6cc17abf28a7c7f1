"""The workflows pass actionlint, the Dockerfile passes hadolint; no secret goes into an image."""

from __future__ import annotations

import re
import subprocess

from tests.deploy.conftest import REPO, load_yaml, require_tool

WORKFLOWS = sorted((REPO / ".github/workflows").glob("*.yml"))
SECRET_NAMES = re.compile(r"SENTRY_DSN|GRAFANA_OTLP|METRICS_TOKEN|SECRET_KEY|PASSWORD|secrets\.")


def test_workflows_pass_actionlint():
    binary = require_tool("actionlint", "requirements-dev.txt")
    assert {path.name for path in WORKFLOWS} == {"ci.yml", "cd-development.yml", "cd-release.yml"}
    result = subprocess.run([binary, "-no-color", "-oneline", *map(str, WORKFLOWS)],
                            capture_output=True, text=True, timeout=120, cwd=REPO)
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_passes_hadolint():
    binary = require_tool("hadolint", "requirements-dev.txt")
    result = subprocess.run([binary, "--no-color", "Dockerfile"], capture_output=True, text=True,
                            timeout=60, cwd=REPO)
    assert result.returncode == 0, result.stdout + result.stderr


def test_no_secret_is_baked_into_an_image():
    dockerfile = (REPO / "Dockerfile").read_text()
    for line in dockerfile.splitlines():
        if line.startswith(("ARG", "ENV")) or line.startswith("    ") and "=" in line:
            assert not SECRET_NAMES.search(line), line
    assert ".env" in (REPO / ".dockerignore").read_text().split()
    for path in WORKFLOWS:
        for job in load_yaml(str(path.relative_to(REPO)))["jobs"].values():
            for step in job.get("steps", []):
                build_args = str(step.get("with", {}).get("build-args", ""))
                assert not SECRET_NAMES.search(build_args), (path.name, build_args)


def test_ci_runs_the_whole_suite_against_postgres_on_loopback():
    ci = load_yaml(".github/workflows/ci.yml")
    (job,) = ci["jobs"].values()
    postgres = job["services"]["postgres"]
    assert postgres["env"]["POSTGRES_HOST_AUTH_METHOD"] == "trust"
    assert postgres["ports"] == ["127.0.0.1:5432:5432"]
    assert any(step.get("run", "").strip() == "bash .ci/run" for step in job["steps"])
    release = load_yaml(".github/workflows/cd-release.yml")
    assert release["jobs"]["test"]["uses"] == "./.github/workflows/ci.yml"
    assert release["jobs"]["image"]["needs"] == "test"
