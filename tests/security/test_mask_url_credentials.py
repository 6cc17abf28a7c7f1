"""Credentials inside GRAFANA_OTLP_ENDPOINT (user info, and every query value: issue 20
item 7) are masked wherever the URL is shown: the helper here, the page, CLI and log in
tests/telemetry/test_endpoint_config.py."""

from __future__ import annotations

import pytest

from app.observability.urls import mask_url_credentials


@pytest.mark.parametrize("url, shown", [
    ("http://user:pass@host", "http://***:***@host"),
    ("https://12345:glc_eyJrIjoi@otlp.example.net:4318/otlp/v1/logs?x=1",
     "https://***:***@otlp.example.net:4318/otlp/v1/logs?x=***"),
    ("https://otlp.example.net/otlp/v1/logs?token=secret", "https://otlp.example.net/otlp/v1/logs?token=***"),
    ("https://h/otlp?a=1&api_key=s3cret&flag&empty=", "https://h/otlp?a=***&api_key=***&***&empty=***"),
    ("https://h/otlp?glc_bare_token", "https://h/otlp?***"),
    ("https://h/otlp#secret", "https://h/otlp#***"),
    ("https://token@otlp.example.net/otlp", "https://***@otlp.example.net/otlp"),
    ("http://user:p%40ss@[2001:db8::1]:4318/v1", "http://***:***@[2001:db8::1]:4318/v1"),
    ("http://:secret@host/", "http://***:***@host/"),
    ("https://otlp.example.net/otlp", "https://otlp.example.net/otlp"),
    ("http://127.0.0.1:4318", "http://127.0.0.1:4318"),
    ("", ""),
])
def test_credentials_are_replaced_and_everything_else_is_kept(url, shown):
    assert mask_url_credentials(url) == shown


def test_an_unparsable_url_with_credentials_is_masked_whole():
    masked = mask_url_credentials("http://user:secret@host:notaport/")
    assert "secret" not in masked and "user" not in masked
