"""Sentry: a local HTTP server plays the DSN host and reads what would leave the process."""

from __future__ import annotations

import json
import logging
import re
import socket
import time

import pytest
import sentry_sdk

from app.observability.errors import SERVER_NAME, TEST_ERROR_MESSAGE, TEST_ERROR_PATH, scrub_event
from app.services.setup import complete_setup
from tests.conftest import ADMIN_PASSWORD, login
from tests.support.polling import wait_for
from tests.support.sentry import SentryReceiver, parse_envelope

USERNAME = "zelda-sentinel-user"
EMAIL = "zelda.sentinel@example.org"
PASSWORD = "Sentinel-Password-7731"
CLIENT_IP = "203.0.113.77"
FORWARDED_IP = "198.51.100.23"


@pytest.fixture
def sentry_receiver():
    receiver = SentryReceiver()
    yield receiver
    # Leave no active client behind for the tests that follow.
    sentry_sdk.get_client().close(timeout=2)
    sentry_sdk.init()
    receiver.close()


def test_a_deliberate_error_reaches_the_dsn_host_with_the_request_id_and_nothing_personal(
        app_factory, sentry_receiver):
    from app.services.users import create_user

    app = app_factory(SENTRY_DSN=sentry_receiver.dsn, PROPAGATE_EXCEPTIONS=False)
    with app.app_context():
        complete_setup(admin_username="admin", admin_password=ADMIN_PASSWORD, allow_analytics=False)
        user_id = create_user(username=USERNAME, password=PASSWORD, role="user", email=EMAIL).id
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = CLIENT_IP
    assert login(client, USERNAME, PASSWORD).status_code == 302
    session_cookie = client.get_cookie("session").value

    response = client.get(
        f"{TEST_ERROR_PATH}?email={EMAIL}&q=typed-query-text",
        headers={"X-Request-ID": "sentry-req-000123", "X-Forwarded-For": FORWARDED_IP,
                 "Authorization": "Bearer leak-me-token", "User-Agent": f"agent {EMAIL}"},
    )
    assert response.status_code == 500
    assert response.headers["X-Request-ID"] == "sentry-req-000123"

    events = [e for e in _wait_for_events(sentry_receiver)
              if TEST_ERROR_MESSAGE in json.dumps(e.get("exception", {}))]
    assert len(events) == 1, sentry_receiver.events()
    event = events[0]
    assert event["tags"]["request_id"] == "sentry-req-000123"
    assert event["user"] == {"id": str(user_id)}
    assert event["server_name"] == SERVER_NAME
    assert event["release"] == app.config["APP_VERSION"]
    assert event["request"]["url"].endswith(TEST_ERROR_PATH)

    raw = b"\n".join(sentry_receiver.bodies).decode("utf-8")
    for secret in (USERNAME, EMAIL, PASSWORD, session_cookie, CLIENT_IP, FORWARDED_IP,
                   "leak-me-token", "typed-query-text"):
        assert secret not in raw, secret
    hostname = socket.gethostname()
    assert not re.search(rf"(?<![\w-]){re.escape(hostname)}(?![\w-])", raw), hostname


def test_the_error_route_exists_only_in_testing(app_factory):
    app = app_factory(TESTING=False)
    with app.app_context():
        complete_setup(admin_username="admin", admin_password=ADMIN_PASSWORD, allow_analytics=False)
    assert app.test_client().get(TEST_ERROR_PATH).status_code == 404


def test_scrubbing_removes_addresses_emails_queries_and_headers_but_keeps_times_and_versions():
    event = {
        "server_name": "db-host-17",
        "message": "user bob@example.com from 10.1.2.3 and 2001:db8::7 at 09:30:00, sdk 2.75.0",
        "request": {
            "url": "https://tt.example.com/entries?user=bob",
            "query_string": "user=bob", "cookies": {"session": "abc"}, "data": {"notes": "x"},
            "env": {"REMOTE_ADDR": "10.1.2.3"},
            "headers": {"Cookie": "session=abc", "Authorization": "Bearer t", "Accept": "text/html",
                        "X-Forwarded-For": "10.9.9.9", "X-Request-ID": "abcdefgh1"},
        },
        "user": {"id": "7", "email": "bob@example.com", "ip_address": "10.1.2.3"},
        "extra": {"sys.argv": ["gunicorn", "--secret"]},
        "breadcrumbs": {"values": [
            {"category": "httplib", "data": {"url": "http://api/x?token=abc", "http.query": "token=abc"}},
            {"category": "auth", "data": {"password": "hunter2", "entry_id": 5}},
        ]},
    }
    scrubbed = scrub_event(event)
    text = json.dumps(scrubbed)
    for gone in ("bob@example.com", "10.1.2.3", "2001:db8::7", "10.9.9.9", "session", "Bearer",
                 "token=abc", "user=bob", "hunter2", "--secret", "db-host-17"):
        assert gone not in text, gone
    assert "09:30:00" in text and "2.75.0" in text
    assert scrubbed["request"]["headers"] == {"Accept": "text/html", "X-Request-ID": "abcdefgh1"}
    assert scrubbed["breadcrumbs"]["values"][1]["data"]["entry_id"] == 5
    assert "user" not in scrubbed  # outside a request there is no user to name


def _wait_for_events(receiver, timeout: float = 10.0) -> list[dict]:
    sentry_sdk.flush(timeout=timeout)
    wait_for(receiver.events, timeout=timeout, interval=0.05)
    return receiver.events()


def test_no_per_request_tracing_or_query_recording_at_rate_zero_and_errors_keep_their_route(
        app_factory, sentry_receiver):
    # Tracing and the SQLAlchemy integration cost a quarter of a request's CPU
    # (scenario 1 of the benchmarks) for nothing an error report needs.
    app = app_factory(SENTRY_DSN=sentry_receiver.dsn, SENTRY_TRACES_RATE=0.0,
                      PROPAGATE_EXCEPTIONS=False)
    client_options = sentry_sdk.get_client().options
    assert client_options["traces_sample_rate"] is None
    assert "sqlalchemy" not in sentry_sdk.get_client().integrations
    # No WSGI middleware around every request: Flask's error signal reports errors.
    assert "flask" not in sentry_sdk.get_client().integrations
    with app.app_context():
        complete_setup(admin_username="admin", admin_password=ADMIN_PASSWORD, allow_analytics=False)
    client = app.test_client()
    assert login(client, "admin", ADMIN_PASSWORD).status_code == 302
    assert client.get("/").status_code == 200  # a page that runs queries

    assert client.get(TEST_ERROR_PATH).status_code == 500
    events = [e for e in _wait_for_events(sentry_receiver)
              if TEST_ERROR_MESSAGE in json.dumps(e.get("exception", {}))]
    assert len(events) == 1
    event = events[0]
    assert event["transaction"] == TEST_ERROR_PATH
    frames = event["exception"]["values"][-1]["stacktrace"]["frames"]
    assert any(frame["function"] == "_raise_test_error" for frame in frames)
    categories = {crumb.get("category") for crumb in event.get("breadcrumbs", {}).get("values", [])}
    assert "query" not in categories
    assert not [header for body in sentry_receiver.bodies
                for header, _ in parse_envelope(body) if header.get("type") == "transaction"]


def test_a_positive_traces_rate_still_sends_transactions(app_factory, sentry_receiver):
    app = app_factory(SENTRY_DSN=sentry_receiver.dsn, SENTRY_TRACES_RATE=1.0)
    assert sentry_sdk.get_client().options["traces_sample_rate"] == 1.0
    assert "flask" in sentry_sdk.get_client().integrations  # transactions need the middleware
    assert app.test_client().get("/healthz").status_code == 200
    sentry_sdk.flush(timeout=10)

    def kinds() -> list[str]:
        return [header.get("type") for body in sentry_receiver.bodies
                for header, _ in parse_envelope(body)]

    assert wait_for(lambda: "transaction" in kinds(), timeout=10, interval=0.05), kinds()


def test_outgoing_requests_carry_no_sentry_trace_headers(app_factory, sentry_receiver):
    # The telemetry sink is a third party: it must not learn our Sentry key or trace ids.
    from app import telemetry
    from tests.support.otlp import start_receiver

    otlp = start_receiver("ok")
    try:
        app = app_factory(SENTRY_DSN=sentry_receiver.dsn, GRAFANA_OTLP_ENDPOINT=otlp.url,
                          TELEMETRY_BATCH_DELAY_MS=50)
        with app.app_context():
            complete_setup(admin_username="admin", admin_password=ADMIN_PASSWORD,
                           allow_analytics=True)
        client = app.test_client()
        assert login(client, "admin", ADMIN_PASSWORD).status_code == 302
        with client:  # an export started inside a request as well as from the sink's thread
            assert client.get("/").status_code == 200
            telemetry.client(app).flush(5.0)
        telemetry.client(app).shutdown()
        assert otlp.requests, "nothing reached the OTLP receiver"
        for received in otlp.requests:
            assert "sentry-trace" not in received.headers
            assert "baggage" not in received.headers
            assert b"publickey123" not in received.raw_body
    finally:
        otlp.stop()


def test_access_lines_are_not_kept_as_breadcrumbs(app_factory, sentry_receiver):
    # Logged after the view, cleared before the next request: never part of an event.
    from sentry_sdk.integrations.logging import _IGNORED_LOGGERS

    from app.observability.logging import ACCESS_LOGGER

    app = app_factory(SENTRY_DSN=sentry_receiver.dsn)
    assert ACCESS_LOGGER in _IGNORED_LOGGERS
    with app.test_request_context("/"):
        sentry_sdk.get_isolation_scope().clear_breadcrumbs()
        logging.getLogger(ACCESS_LOGGER).info("request", extra={"route": "/"})
        logging.getLogger("app.events").info("project.created", extra={"project_id": 4})
        crumbs = list(sentry_sdk.get_isolation_scope()._breadcrumbs)
    assert [crumb.get("category") for crumb in crumbs] == ["app.events"]


def test_an_error_event_carries_the_breadcrumbs_of_its_own_request_only(app_factory, sentry_receiver):
    # Without the SDK's per-request scope a worker thread's scope keeps what its earlier
    # requests logged; the event must not carry another request's story.
    app = app_factory(SENTRY_DSN=sentry_receiver.dsn, SENTRY_TRACES_RATE=0.0,
                      PROPAGATE_EXCEPTIONS=False)
    seen = {}

    @app.get("/_test/log-then-fail/<word>")
    def log_then_fail(word):
        logging.getLogger("app.events").warning(f"step.logged {word}")
        if word == "fail":
            raise RuntimeError(TEST_ERROR_MESSAGE)
        seen[word] = True
        return "ok"

    with app.app_context():
        complete_setup(admin_username="admin", admin_password=ADMIN_PASSWORD, allow_analytics=False)
    client = app.test_client()
    assert client.get("/_test/log-then-fail/earlier").status_code == 200
    time.sleep(0.01)  # breadcrumb timestamps are to the microsecond; keep them apart
    assert client.get("/_test/log-then-fail/fail", headers={"X-Request-ID": "crumbs-req-0001"}
                      ).status_code == 500
    events = [e for e in _wait_for_events(sentry_receiver)
              if TEST_ERROR_MESSAGE in json.dumps(e.get("exception", {}))]
    assert len(events) == 1
    event = events[0]
    messages = [crumb.get("message") for crumb in event["breadcrumbs"]["values"]]
    assert "step.logged fail" in messages
    assert "step.logged earlier" not in messages
    assert event["tags"]["request_id"] == "crumbs-req-0001"
    assert event["transaction"] == "/_test/log-then-fail/<word>"
    assert event["request"]["method"] == "GET"
    assert event["exception"]["values"][-1]["mechanism"]["handled"] is False
