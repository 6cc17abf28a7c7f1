"""The observability variables are parsed strictly, with the documented defaults."""

from __future__ import annotations

import pytest

from app.config import ConfigError, from_environ


def test_defaults():
    config = from_environ({})
    assert config["LOG_LEVEL"] == "INFO"
    assert config["LOG_MAX_BYTES"] == 10 * 1024 * 1024 and config["LOG_BACKUP_COUNT"] == 5
    assert config["METRICS_ENABLED"] is True and config["METRICS_TOKEN"] is None
    assert config["PROMETHEUS_MULTIPROC_DIR"] is None
    assert config["SENTRY_DSN"] is None and config["SENTRY_TRACES_RATE"] == 0.0
    assert config["SENTRY_ENVIRONMENT"] == "production"


def test_values_are_read():
    config = from_environ({
        "LOG_LEVEL": "warning", "LOG_MAX_BYTES": "1000", "LOG_BACKUP_COUNT": "0",
        "METRICS_ENABLED": "off", "METRICS_TOKEN": "t0ken", "PROMETHEUS_MULTIPROC_DIR": "/tmp/pm",
        "SENTRY_DSN": "https://abc@sentry.example.com/12", "SENTRY_TRACES_RATE": "0.25",
        "SENTRY_ENVIRONMENT": "staging",
    })
    assert config["LOG_LEVEL"] == "WARNING" and config["LOG_MAX_BYTES"] == 1000
    assert config["LOG_BACKUP_COUNT"] == 0 and config["METRICS_ENABLED"] is False
    assert config["METRICS_TOKEN"] == "t0ken" and config["PROMETHEUS_MULTIPROC_DIR"] == "/tmp/pm"
    assert config["SENTRY_DSN"] == "https://abc@sentry.example.com/12"
    assert config["SENTRY_TRACES_RATE"] == 0.25 and config["SENTRY_ENVIRONMENT"] == "staging"


@pytest.mark.parametrize("name, value", [
    ("LOG_LEVEL", "verbose"), ("LOG_LEVEL", "10"),
    ("LOG_MAX_BYTES", "10MB"), ("LOG_MAX_BYTES", "-1"), ("LOG_BACKUP_COUNT", "five"),
    ("METRICS_ENABLED", "maybe"),
    ("SENTRY_DSN", "sentry.example.com/12"), ("SENTRY_DSN", "https://sentry.example.com/12"),
    ("SENTRY_DSN", "https://key@sentry.example.com/"),
    ("SENTRY_TRACES_RATE", "1.5"), ("SENTRY_TRACES_RATE", "half"),
])
def test_bad_values_stop_the_app(name, value):
    with pytest.raises(ConfigError):
        from_environ({name: value})


def test_a_bad_dsn_error_does_not_echo_the_key():
    with pytest.raises(ConfigError) as info:
        from_environ({"SENTRY_DSN": "ftp://secretkey@host/1"})
    assert "secretkey" not in str(info.value)
