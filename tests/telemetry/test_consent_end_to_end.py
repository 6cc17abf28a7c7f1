"""Consent, end to end: real web sessions against a real OTLP/HTTP receiver on 127.0.0.1."""

from __future__ import annotations

import base64
import re
import socket
from datetime import datetime, timedelta, timezone

import pytest

from app import telemetry
from app.telemetry import catalogue
from app.telemetry.catalogue import CONTEXT_PROPERTIES, EVENTS, RESOURCE_ATTRIBUTES
from app.telemetry.client import FIRST_SEEN, HEARTBEAT
from tests.conftest import ADMIN_PASSWORD, login

from .conftest import client_of, complete_setup, flush
from .session import PII, run_session

TOMORROW_0300 = (datetime.now(timezone.utc) + timedelta(days=1)).replace(
    hour=3, minute=0, second=0, microsecond=0)


def _assert_no_pii(receiver) -> None:
    raw = receiver.raw
    assert raw, "the receiver got nothing at all"
    for secret in PII:
        assert secret.encode() not in raw, f"{secret!r} reached the receiver"


def _assert_conforms(record: dict) -> None:
    """Every attribute of a received record, and of its Resource, is declared in the
    catalogue with its type; the record carries only its own event's properties."""
    attributes = dict(record["attributes"])
    layer = attributes.pop("telemetry.layer")
    name = record["event_name"]
    assert record["body"] == name
    event = EVENTS[name]
    assert layer == event.layer
    for key, value in attributes.items():
        prop = event.properties.get(key) or (CONTEXT_PROPERTIES.get(key) if layer == "analytics" else None)
        assert prop is not None, f"{name}: undeclared attribute {key!r}"
        assert prop.check(key, value) == value
    assert set(record["resource"]) == set(RESOURCE_ATTRIBUTES)
    for key, value in record["resource"].items():
        assert RESOURCE_ATTRIBUTES[key].check(key, value) == value


def test_before_setup_nothing_is_received(telemetry_app_factory, otlp_receiver):
    app = telemetry_app_factory()
    client = app.test_client()
    assert client.get("/").headers["Location"] == "/setup"
    assert client.get("/setup").status_code == 200
    telemetry_client = client_of(app)
    assert telemetry_client.send_due_base_events() == []
    with app.test_request_context("/"):
        assert telemetry_client.track("client.created") is False
    flush(app)
    assert otlp_receiver.requests == []
    assert telemetry_client.base_layer().reason == "off: setup is not complete"


def test_opted_out_install_sends_base_events_only_and_no_pii(telemetry_app_factory, otlp_receiver):
    app = telemetry_app_factory()
    complete_setup(app, allow_analytics=False, admin_email="admin@example.org")
    run_session(app, allow_analytics_expected=False)
    flush(app)  # first_seen acknowledged: now a heartbeat may follow
    assert client_of(app).send_due_base_events(now=TOMORROW_0300) == [HEARTBEAT]
    flush(app)
    assert sorted(otlp_receiver.names()) == [FIRST_SEEN, HEARTBEAT]
    _assert_no_pii(otlp_receiver)
    for record in otlp_receiver.records:
        _assert_conforms(record)
    metrics = client_of(app).metrics
    assert metrics.value("analytics", "sent") == 0
    assert metrics.value("analytics", "filtered") > 0
    assert metrics.value("base", "sent") == 2


def test_opted_in_install_sends_catalogue_events_and_opt_out_stops_them(
        telemetry_app_factory, otlp_receiver):
    app = telemetry_app_factory()
    complete_setup(app, allow_analytics=True, admin_email="admin@example.org")
    run_session(app, allow_analytics_expected=True)
    flush(app)
    names = set(otlp_receiver.names("analytics"))
    expected = {"auth.login", "auth.logout", "auth.login_failed", "timer.started", "timer.stopped",
                "project.created", "client.created", "task.created", "time_entry.created",
                "time_entry.updated", "time_entry.deleted", "settings.updated", "page.viewed",
                "report.viewed", "export.csv", "api_token.created"}
    assert expected <= names, expected - names
    api_events = {r["event_name"] for r in otlp_receiver.events("analytics")
                  if r["attributes"]["source"] == "api"}
    assert {"timer.started", "timer.stopped", "time_entry.created", "time_entry.updated",
            "time_entry.deleted", "report.viewed", "export.csv"} <= api_events
    assert FIRST_SEEN in otlp_receiver.names("base")
    _assert_no_pii(otlp_receiver)
    install_id = client_of(app).state().install_id
    for record in otlp_receiver.records:
        _assert_conforms(record)
        # Install, version and deployment are on the Resource, never repeated per record.
        assert record["resource"]["timetracker.install_id"] == install_id
        assert record["resource"]["service.name"] == "timetracker"
        assert not {"install_id", "app_version", "deployment_type"} & set(record["attributes"])
    analytics = otlp_receiver.events("analytics")
    by_source = {}
    for record in analytics:
        by_source.setdefault(record["attributes"]["source"], set()).add(record["event_name"])
    assert set(by_source) == {"web", "api", "cli"}
    # The session's own service calls outside any request (its API token) report as the CLI.
    assert by_source["cli"] == {"api_token.created"}
    logins = [r for r in analytics if r["event_name"] == "auth.login"]
    assert logins and all(re.fullmatch(r"[0-9a-f]{16}", r["attributes"]["user_id"])
                          for r in logins)
    assert {r["attributes"]["browser_family"] for r in logins} == {"chrome"}
    routes = {r["attributes"]["route"] for r in analytics if r["event_name"] == "page.viewed"}
    assert "/projects/<int:project_id>" in routes
    assert all(path.startswith("/v1/logs") for path in (r.path for r in otlp_receiver.requests))

    # Opting out (the box unticked in Admin → Settings) takes effect with the very next action.
    admin = app.test_client()
    assert login(admin, "admin", ADMIN_PASSWORD).status_code == 302
    assert admin.post_form("/admin/settings", {"company_name": "X", "default_timezone": "UTC",
                                               "currency": "EUR"},
                           token_page="/admin/settings").status_code == 302
    flush(app)
    before = len(otlp_receiver.records)
    assert admin.post_form("/clients/new", {"name": "After Opt Out Ltd"}).status_code == 302
    assert admin.get("/clients").status_code == 200
    flush(app)
    assert len(otlp_receiver.records) == before
    assert b"After Opt Out" not in otlp_receiver.raw
    assert client_of(app).state().telemetry_enabled is False
    with app.app_context():
        from app.services.settings import get_settings

        assert get_settings().allow_analytics is False


@pytest.mark.parametrize("switch", ["DO_NOT_TRACK", "TELEMETRY_DISABLED"])
def test_kill_switch_opens_no_socket_and_builds_no_event(switch, telemetry_app_factory,
                                                         otlp_receiver, monkeypatch):
    attempts = []
    guarded_connect = socket.socket.connect  # the conftest's loopback guard, already installed
    real_getaddrinfo = socket.getaddrinfo

    def recording_connect(sock, address):
        attempts.append(("connect", address))
        return guarded_connect(sock, address)

    def recording_getaddrinfo(host, port=None, *args, **kwargs):
        attempts.append(("getaddrinfo", (host, port)))
        return real_getaddrinfo(host, port, *args, **kwargs)

    app = telemetry_app_factory(**{switch: True})
    complete_setup(app, allow_analytics=True, admin_email="admin@example.org")
    # Record from here on: the database connections above are not ours to judge.
    monkeypatch.setattr(socket.socket, "connect", recording_connect)
    monkeypatch.setattr(socket, "getaddrinfo", recording_getaddrinfo)
    run_session(app, allow_analytics_expected=True)
    client = client_of(app)
    assert client.send_due_base_events(now=TOMORROW_0300) == []
    flush(app)
    receiver_port = int(otlp_receiver.url.rsplit(":", 1)[1])
    # Lookups and connections towards the receiver; a new database connection (psycopg
    # resolves its host too) is not telemetry's.
    ours = [a for a in attempts if str(a[1][1]) == str(receiver_port)]
    assert ours == []
    assert otlp_receiver.requests == []
    assert client.consumer is None  # no exporter, no thread, no session
    assert client.state().first_seen_sent_at is None
    assert client.base_layer().reason == f"off: {switch} is set"


def test_instance_token_is_sent_as_basic_auth_and_bare_token_as_bearer(
        telemetry_app_factory, otlp_receiver):
    first = telemetry_app_factory()
    complete_setup(first, allow_analytics=True)
    flush(first)  # its first_seen is out of the way
    for token, expected in [("123456:glc_secret",
                             "Basic " + base64.b64encode(b"123456:glc_secret").decode()),
                            ("bare-token", "Bearer bare-token")]:
        app = telemetry_app_factory(GRAFANA_OTLP_TOKEN=token)
        flush(app)
        otlp_receiver.requests.clear()
        with app.test_request_context("/"):
            assert telemetry.track_event(None, "auth.logout")
        flush(app)
        assert otlp_receiver.names() == ["auth.logout"]
        assert {r.headers.get("authorization") for r in otlp_receiver.requests} == {expected}
        assert {r.headers.get("content-type") for r in otlp_receiver.requests} == {
            "application/x-protobuf"}
        assert token.encode() not in otlp_receiver.raw


def test_unknown_events_and_properties_are_dropped_counted_and_raise_under_tests(
        telemetry_app_factory, otlp_receiver):
    app = telemetry_app_factory()
    complete_setup(app, allow_analytics=True)
    client = client_of(app)
    filtered = client.metrics.value("analytics", "filtered")
    with app.test_request_context("/"):
        with pytest.raises(catalogue.CatalogueViolation):
            client.track("project.renamed")
        with pytest.raises(catalogue.CatalogueViolation):
            client.track("project.created", {"billable": True, "has_client": False,
                                             "name": "Acme"})
        with pytest.raises(catalogue.CatalogueViolation):
            client.track("page.viewed", {"route": "/entries/42/edit", "status_class": "2xx"})
        with pytest.raises(catalogue.CatalogueViolation):  # base events are the client's own
            client.track(FIRST_SEEN)
    client.strict = False  # as in production: dropped and counted, never raised
    with app.test_request_context("/"):
        assert client.track("project.renamed") is False
    assert client.metrics.value("analytics", "filtered") == filtered + 5
    flush(app)
    assert "project.renamed" not in otlp_receiver.names()
    assert b"Acme" not in otlp_receiver.raw
