"""Consent, end to end: real web sessions against a real OTLP/HTTP receiver on 127.0.0.1."""

from __future__ import annotations

import base64
import socket

import pytest

from app.telemetry import catalogue, service
from app.telemetry.catalogue import CONTEXT_PROPERTIES, EVENTS
from tests.conftest import ADMIN_PASSWORD

from .session import PII, run_session

BASE_EVENTS = {"base_telemetry.first_seen", "base_telemetry.heartbeat"}


def _setup(app, allow_analytics: bool) -> None:
    from app.services.setup import complete_setup

    with app.app_context():
        complete_setup(admin_username="admin", admin_password=ADMIN_PASSWORD,
                       allow_analytics=allow_analytics, admin_email="admin@example.org")


def _flush(app) -> None:
    assert service.flush(5.0, app=app)


def _assert_no_pii(receiver) -> None:
    raw = receiver.raw
    assert raw, "the receiver got nothing at all"
    for secret in PII:
        assert secret.encode() not in raw, f"{secret!r} reached the receiver"


def _assert_conforms(record: dict) -> None:
    """Every attribute of a received record is declared in the catalogue, with its type."""
    attributes = dict(record["attributes"])
    name = attributes.pop("event.name")
    layer = attributes.pop("telemetry.layer")
    assert record["event_name"] == name and record["body"] == name
    event = EVENTS[name]
    assert layer == event.layer
    for key, value in attributes.items():
        prop = event.properties.get(key) or (CONTEXT_PROPERTIES.get(key) if layer == "analytics" else None)
        assert prop is not None, f"{name}: undeclared attribute {key!r}"
        assert prop.check(key, value) == value


def test_before_setup_nothing_is_received(telemetry_app_factory, otlp_receiver):
    app = telemetry_app_factory()
    client = app.test_client()
    assert client.get("/").status_code in (200, 302)
    assert client.get("/setup").status_code == 200
    with app.app_context():
        assert service.send_base_heartbeat(app=app) is False
        assert service.send_base_first_seen(app=app) is False
        assert service.send_analytics_event("client.created", {"source": "web"}, app=app) is False
    _flush(app)
    assert otlp_receiver.requests == []
    assert service.base_layer_state(app).reason == "off: setup is not complete"


def test_opted_out_install_sends_base_events_only_and_no_pii(telemetry_app_factory, otlp_receiver):
    app = telemetry_app_factory()
    _setup(app, allow_analytics=False)
    run_session(app, allow_analytics_expected=False)
    with app.app_context():
        assert service.send_base_heartbeat(app=app)
    _flush(app)
    names = otlp_receiver.names()
    assert sorted(names) == ["base_telemetry.first_seen", "base_telemetry.heartbeat"]
    _assert_no_pii(otlp_receiver)
    for record in otlp_receiver.records:
        _assert_conforms(record)
    state = app.extensions["telemetry"]
    assert state.metrics.value("analytics", "sent") == 0
    assert state.metrics.value("analytics", "filtered") > 0
    assert state.metrics.value("base", "sent") == 2


def test_opted_in_install_sends_catalogue_events_and_opt_out_stops_them(
        telemetry_app_factory, otlp_receiver):
    app = telemetry_app_factory()
    _setup(app, allow_analytics=True)
    run_session(app, allow_analytics_expected=True)
    _flush(app)
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
    assert "base_telemetry.first_seen" in otlp_receiver.names("base")
    _assert_no_pii(otlp_receiver)
    install_id = app.extensions["telemetry"].installation.read().install_id
    for record in otlp_receiver.records:
        _assert_conforms(record)
        assert record["attributes"]["install_id"] == install_id
        resource = record["resource"]
        assert resource["service.name"] == "timetracker"
        assert {"service.version", "service.instance.id", "os.type", "host.arch"} <= set(resource)
    analytics = otlp_receiver.events("analytics")
    assert {r["attributes"]["source"] for r in analytics} == {"web", "api"}
    logins = [r for r in analytics if r["event_name"] == "auth.login"]
    assert {type(r["attributes"]["user_id"]) for r in logins} == {int}
    assert {r["attributes"]["browser_family"] for r in logins} == {"chrome"}
    routes = {r["attributes"]["route"] for r in analytics if r["event_name"] == "page.viewed"}
    assert "/projects/<int:project_id>" in routes
    assert all(path.startswith("/v1/logs") for path in (r.path for r in otlp_receiver.requests))

    # Opting out takes effect with the very next action, in this running process.
    admin = app.test_client()
    from tests.conftest import login

    assert login(admin, "admin", ADMIN_PASSWORD).status_code == 302
    assert admin.post_form("/admin/settings", {"company_name": "X", "default_timezone": "UTC",
                                               "currency": "EUR"},
                           token_page="/admin/settings").status_code == 302
    _flush(app)
    before = len(otlp_receiver.records)
    assert admin.post_form("/clients/new", {"name": "After Opt Out Ltd"}).status_code == 302
    assert admin.get("/clients").status_code == 200
    _flush(app)
    assert len(otlp_receiver.records) == before
    assert b"After Opt Out" not in otlp_receiver.raw
    with app.app_context():
        assert service.get_telemetry_preference() is False
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

    def recording_getaddrinfo(host, *args, **kwargs):
        attempts.append(("getaddrinfo", host))
        return real_getaddrinfo(host, *args, **kwargs)

    app = telemetry_app_factory(**{switch: True})
    _setup(app, allow_analytics=True)
    # Record from here on: the database connections above are not ours to judge.
    monkeypatch.setattr(socket.socket, "connect", recording_connect)
    monkeypatch.setattr(socket, "getaddrinfo", recording_getaddrinfo)
    run_session(app, allow_analytics_expected=True)
    with app.app_context():
        assert service.send_base_heartbeat(app=app) is False
    _flush(app)
    receiver_port = int(otlp_receiver.url.rsplit(":", 1)[1])
    ours = [a for a in attempts if a[0] == "getaddrinfo" or a[1][1] == receiver_port]
    assert ours == []
    assert otlp_receiver.requests == []
    state = app.extensions["telemetry"]
    assert state.sink is None
    assert not (app.config["DATA_DIR"] and (state.installation.path.exists() and
                state.installation.read().first_seen_sent_at))
    assert service.base_layer_state(app).reason == f"off: {switch} is set"


def test_instance_token_is_sent_as_basic_auth_and_bare_token_as_bearer(
        telemetry_app_factory, otlp_receiver):
    for token, expected in [("123456:glc_secret", "Basic " + base64.b64encode(b"123456:glc_secret").decode()),
                            ("bare-token", "Bearer bare-token")]:
        otlp_receiver.requests.clear()
        app = telemetry_app_factory(GRAFANA_OTLP_TOKEN=token,
                                    DATA_DIR=str(app_data_dir(token)))
        _setup_or_skip_db(app)
        _flush(app)
        assert otlp_receiver.requests, "first_seen did not arrive"
        assert {r.headers.get("authorization") for r in otlp_receiver.requests} == {expected}
        assert {r.headers.get("content-type") for r in otlp_receiver.requests} == {"application/x-protobuf"}
        service.shutdown(app=app)


def app_data_dir(token: str):
    import tempfile
    from pathlib import Path

    return Path(tempfile.mkdtemp(prefix="tt-telemetry-")) / token.replace(":", "_")


def _setup_or_skip_db(app) -> None:
    # The second app shares this test's database: setup is done once, then marked in the
    # new DATA_DIR's installation.json through the same door setup uses.
    from app.services.setup import is_setup_complete

    with app.app_context():
        if not is_setup_complete():
            _setup(app, allow_analytics=False)
        else:
            service.on_setup_completed(False, changed_by="test", app=app)


def test_unknown_events_and_properties_are_dropped_counted_and_raise_under_tests(
        telemetry_app_factory, otlp_receiver):
    app = telemetry_app_factory()
    _setup(app, allow_analytics=True)
    with app.test_request_context("/"):
        with pytest.raises(catalogue.CatalogueViolation):
            service.send_analytics_event("project.renamed", {"source": "web"})
        with pytest.raises(catalogue.CatalogueViolation):
            service.send_analytics_event("project.created", {"source": "web", "name": "Acme"})
        with pytest.raises(catalogue.CatalogueViolation):
            service.send_analytics_event("page.viewed", {"source": "web", "route": "/entries/42/edit",
                                                         "status_class": "2xx"})
    app.config["TESTING"] = False
    app.extensions["telemetry"].strict = False
    with app.test_request_context("/"):
        assert service.send_analytics_event("project.renamed", {"source": "web"}) is False
    assert app.extensions["telemetry"].metrics.value("analytics", "filtered") == 4
    _flush(app)
    assert "project.renamed" not in otlp_receiver.names()
