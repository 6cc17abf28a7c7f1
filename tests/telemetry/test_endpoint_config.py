"""Issue 20 item 7: the OTLP endpoint's query (a receiver may take its secret there) keeps
its place after the /v1/logs suffix and is masked wherever the endpoint is shown; an
endpoint with credentials beside GRAFANA_OTLP_TOKEN is refused instead of dropping one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app import create_app
from app.config import ConfigError, from_environ
from app.telemetry import logs_url
from tests.telemetry.conftest import complete_setup, flush


@pytest.mark.parametrize("endpoint, url", [
    ("https://host/otlp?token=secret", "https://host/otlp/v1/logs?token=secret"),
    ("https://host/otlp/?token=secret", "https://host/otlp/v1/logs?token=secret"),
    ("https://host/otlp/v1/logs?token=secret", "https://host/otlp/v1/logs?token=secret"),
    ("https://u:p@host:4318", "https://u:p@host:4318/v1/logs"),
    ("http://127.0.0.1:4318/", "http://127.0.0.1:4318/v1/logs"),
])
def test_the_logs_suffix_goes_on_the_path(endpoint, url):
    assert logs_url(endpoint) == url


def test_a_query_secret_is_sent_and_shown_nowhere(telemetry_app_factory, otlp_receiver):
    endpoint = otlp_receiver.url + "/otlp?token=q-s3cret"
    app = telemetry_app_factory(GRAFANA_OTLP_ENDPOINT=endpoint)
    complete_setup(app, allow_analytics=True)
    flush(app)
    # first_seen arrived on the logs path, the query after it, as configured.
    assert {r.path for r in otlp_receiver.requests} == {"/otlp/v1/logs?token=q-s3cret"}
    shown = otlp_receiver.url + "/otlp/v1/logs?token=***"
    out = app.test_cli_runner().invoke(args=["telemetry", "status"])
    assert f"recipient: {shown}" in out.stdout and "q-s3cret" not in out.output
    from tests.conftest import ADMIN_PASSWORD, login

    admin = app.test_client()
    assert login(admin, "admin", ADMIN_PASSWORD).status_code == 302
    page = admin.get("/admin/telemetry").get_data(as_text=True)
    assert shown in page and "q-s3cret" not in page
    lines = [json.loads(line) for line in
             (Path(app.config["LOG_DIR"]) / "app.jsonl").read_text().splitlines()]
    assert [line["endpoint"] for line in lines if line["message"] == "telemetry.layers"][-1] == shown
    assert "q-s3cret" not in json.dumps(lines)


def test_a_failing_export_logs_no_query_secret(telemetry_app_factory):
    from tests.support.otlp import start_receiver

    refused = start_receiver("refused")
    app = telemetry_app_factory(GRAFANA_OTLP_ENDPOINT=refused.url + "/otlp?token=q-s3cret")
    complete_setup(app)
    flush(app)
    text = (Path(app.config["LOG_DIR"]) / "app.jsonl").read_text()
    assert "telemetry" in text and "q-s3cret" not in text


_BOTH = {"GRAFANA_OTLP_ENDPOINT": "https://12345:glc_x@otlp.example.net/otlp",
         "GRAFANA_OTLP_TOKEN": "12345:glc_y"}


def test_credentials_in_the_url_and_a_token_refuse_to_start():
    with pytest.raises(ConfigError) as refused:
        from_environ(_BOTH)
    assert "GRAFANA_OTLP_ENDPOINT" in str(refused.value) and "GRAFANA_OTLP_TOKEN" in str(refused.value)
    assert "glc_" not in str(refused.value)  # the message names the settings, not the secrets
    # Either one alone is fine.
    assert from_environ({"GRAFANA_OTLP_ENDPOINT": _BOTH["GRAFANA_OTLP_ENDPOINT"]})[
        "GRAFANA_OTLP_TOKEN"] is None
    assert from_environ({"GRAFANA_OTLP_ENDPOINT": "https://otlp.example.net/otlp",
                         "GRAFANA_OTLP_TOKEN": "t"})["GRAFANA_OTLP_TOKEN"] == "t"


def test_an_app_configured_with_both_does_not_start(app_factory):
    with pytest.raises(ConfigError, match="GRAFANA_OTLP_TOKEN"):
        app_factory(**_BOTH)
