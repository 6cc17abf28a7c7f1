"""Telemetry transparency (issue 15): pseudonymous ids at the wire, consent bound to the
catalogue, words generated from the catalogue and the configuration, examples of every event,
the recipient card, and what the log says."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import re
import shutil
from pathlib import Path

import pytest

from app import create_app, telemetry
from app.extensions import db
from app.telemetry import catalogue, store
from app.telemetry.catalogue import EVENTS, LAYER_ANALYTICS, RESOURCE_ATTRIBUTES
from app.telemetry.docs import PRIVACY_MD, render_base_fields
from tests.conftest import ADMIN_PASSWORD, USER_PASSWORD, login
from tests.support.polling import wait_for
from tests.telemetry.conftest import analytics_event, change_catalogue, complete_setup, flush

_NAMES = itertools.count(1)
_FIELD = re.compile(r'data-testid="(base|resource)-field" data-field="([^"]+)"')


def _start_and_stop_timer_as(app, user_id: int) -> None:
    """A real action through the services (source cli): the subscriber emits the events."""
    from app.models import User
    from app.services import catalog, timer

    with app.app_context():
        user = db.session.get(User, user_id)
        project = catalog.create_project(name=f"Project {next(_NAMES)}")
        timer.start_timer(user, project_id=project.id)
        timer.stop_timer(user)


def _second_install(sqlite_template, tmp_path, receiver_url):
    """Another install: its own database and data folder, the same receiver."""
    folder = tmp_path / "other-install"
    folder.mkdir()
    shutil.copy(sqlite_template, folder / "db.sqlite")
    return create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder}/db.sqlite",
                       "DATA_DIR": str(folder / "data"), "LOG_DIR": str(folder / "logs"),
                       "RATELIMIT_STORAGE_URI": "memory://", "GRAFANA_OTLP_ENDPOINT": receiver_url,
                       "TELEMETRY_BATCH_DELAY_MS": 50, "TELEMETRY_EXPORT_TIMEOUT_SECONDS": 1.0})


def test_user_ids_leave_as_stable_per_install_pseudonyms_never_the_internal_id(
        telemetry_app_factory, otlp_receiver, sqlite_template, tmp_path):
    from app.services.users import create_user

    app = telemetry_app_factory()
    complete_setup(app, allow_analytics=True)
    with app.app_context():
        alice = create_user(username="alice", password=USER_PASSWORD, role="user", timezone="UTC").id
        bob = create_user(username="bobby", password=USER_PASSWORD, role="user", timezone="UTC").id
    other = _second_install(sqlite_template, tmp_path, otlp_receiver.url)
    try:
        complete_setup(other, allow_analytics=True)
        with other.app_context():
            other_alice = create_user(username="alice", password=USER_PASSWORD, role="user",
                                      timezone="UTC").id
        assert other_alice == alice  # the same internal id on both installs
        for application, user_id in ((app, alice), (app, alice), (app, bob), (other, other_alice)):
            _start_and_stop_timer_as(application, user_id)
        flush(app)
        flush(other)
    finally:
        telemetry.client(other).shutdown(1.0)
    records = [r for r in otlp_receiver.events(LAYER_ANALYTICS) if r["event_name"] == "timer.started"]
    ids = {}
    for record in records:
        assert re.fullmatch(r"[0-9a-f]{16}", record["attributes"]["user_id"])
        ids.setdefault(record["resource"]["timetracker.install_id"], []).append(
            record["attributes"]["user_id"])
    this, that = (telemetry.client(a).state().install_id for a in (app, other))
    with app.app_context():
        key = store.pseudonym_key(db.engine).encode()
    expected = hmac.new(key, str(alice).encode(), hashlib.sha256).hexdigest()[:16]
    assert ids[this].count(expected) == 2  # stable for one user
    assert len(set(ids[this])) == 2  # alice and bob differ
    assert ids[that] != [expected]  # the same internal id elsewhere is unrelated
    for record in otlp_receiver.records:  # no internal id, under any name, anywhere
        assert str(alice) not in {str(v) for v in record["attributes"].values()}
        assert record["resource"]["timetracker.schema_version"] == catalogue.SCHEMA_VERSION


def test_every_record_carries_the_schema_version_on_its_resource(telemetry_app_factory,
                                                                  otlp_receiver):
    app = telemetry_app_factory()
    complete_setup(app, allow_analytics=True)
    _start_and_stop_timer_as(app, 1)
    flush(app)
    assert wait_for(lambda: len(otlp_receiver.records) >= 3)  # first_seen + start + stop
    assert {r["resource"]["timetracker.schema_version"] for r in otlp_receiver.records} == {
        catalogue.SCHEMA_VERSION}
    assert set(otlp_receiver.records[0]["resource"]) == set(RESOURCE_ATTRIBUTES)


def test_every_example_payload_validates_against_the_catalogue(telemetry_app_factory):
    app = telemetry_app_factory()
    complete_setup(app)
    with app.app_context():
        examples = telemetry.client(app).example_payloads()
    detailed = {name for name, event in EVENTS.items() if event.layer == LAYER_ANALYTICS}
    assert sorted(e["event"] for e in examples) == sorted(detailed)
    for example in examples:
        attributes = dict(example["attributes"])
        for key, prop in catalogue.CONTEXT_PROPERTIES.items():
            prop.check(key, attributes.pop(key))
        catalogue.validate(example["event"], attributes)
        assert catalogue.validate_resource(example["resource"]) == example["resource"]


def test_with_no_endpoint_the_wizard_and_admin_page_say_nothing_is_sent(app_factory):
    app = app_factory()
    wizard = app.test_client().get("/setup").get_data(as_text=True)
    assert 'data-testid="telemetry-nothing-sent"' in wizard and not _FIELD.search(wizard)
    complete_setup(app)
    admin = app.test_client()
    assert login(admin, "admin", ADMIN_PASSWORD).status_code == 302
    page = admin.get("/admin/telemetry").get_data(as_text=True)
    assert "Nothing is sent:" in page and "no endpoint is configured" in page
    assert not _FIELD.search(page)


def _listed_fields(html: str) -> tuple[list[str], list[str]]:
    found = _FIELD.findall(html)
    return ([name for kind, name in found if kind == "base"],
            [name for kind, name in found if kind == "resource"])


def test_with_an_endpoint_the_wizard_and_admin_page_list_exactly_the_base_fields(
        telemetry_app_factory):
    app = telemetry_app_factory(GRAFANA_OTLP_ENDPOINT="http://collector:s3cret-pw@127.0.0.1:9/otlp",
                                TELEMETRY_RECIPIENT="Example Analytics GmbH",
                                TELEMETRY_RETENTION_DAYS=90)
    expected = (list(EVENTS["base_telemetry.heartbeat"].properties), list(RESOURCE_ATTRIBUTES))
    wizard = app.test_client().get("/setup").get_data(as_text=True)
    assert _listed_fields(wizard) == expected
    complete_setup(app)
    admin = app.test_client()
    assert login(admin, "admin", ADMIN_PASSWORD).status_code == 302
    page = admin.get("/admin/telemetry").get_data(as_text=True)
    assert _listed_fields(page) == expected
    for html in (wizard, page):  # the recipient card: who, how long, the source address
        assert "http://***:***@127.0.0.1:9/otlp/v1/logs" in html
        assert "Example Analytics GmbH" in html and "90 days" in html
        assert "IP address this server connects from" in html
        assert "s3cret-pw" not in html and "anonymous product" not in html
    # Examples of every detailed event are on the page, before anyone opts in.
    assert page.count('data-testid="example"') == sum(
        1 for event in EVENTS.values() if event.layer == LAYER_ANALYTICS)


def test_status_cli_and_api_show_the_recipient_without_credentials(telemetry_app_factory):
    app = telemetry_app_factory(GRAFANA_OTLP_ENDPOINT="http://user:s3cret-pw@127.0.0.1:9/otlp")
    complete_setup(app)
    telemetry.client(app).flush(5.0)  # first_seen fails against port 9 before the commands run
    out = app.test_cli_runner().invoke(args=["telemetry", "status"])
    assert out.exit_code == 0, out.output
    assert "recipient: http://***:***@127.0.0.1:9/otlp/v1/logs" in out.stdout
    assert "the receiver sees this server's IP address" in out.stdout
    assert "s3cret-pw" not in out.output
    preview = app.test_cli_runner().invoke(args=["telemetry", "preview", "--all"])
    body = json.loads(preview.stdout)
    assert {e["event"] for e in body["detailed_examples"]} == {
        name for name, event in EVENTS.items() if event.layer == LAYER_ANALYTICS}
    assert body["next_heartbeat"]["event"] == "base_telemetry.heartbeat"
    from app.services import api_tokens
    from app.services.users import find_by_username

    with app.app_context():
        secret = api_tokens.create_token(find_by_username("admin"), "t").secret
    api = app.test_client().get("/api/v1/admin/telemetry",
                                headers={"Authorization": f"Bearer {secret}"})
    assert api.status_code == 200
    data = api.get_json()
    assert data["catalogue_version"] == catalogue.catalogue_version()
    assert data["consented_catalogue_version"] is None
    assert data["recipient"]["endpoint"] == "http://***:***@127.0.0.1:9/otlp/v1/logs"
    assert len(data["examples"]) == len(body["detailed_examples"])
    assert "s3cret-pw" not in api.get_data(as_text=True)


def test_the_tests_build_product_events_as_the_catalogue_declares_them():
    """``analytics_event`` (the simulated upgrades' events) matches every real one."""
    for event in EVENTS.values():
        if event.layer == LAYER_ANALYTICS:
            own = {k: v for k, v in event.properties.items() if k != "source"}
            assert analytics_event(event.name, event.description, **own) == event


def test_a_changed_catalogue_pauses_detailed_events_at_the_wire_until_accepted(
        telemetry_app_factory, otlp_receiver, monkeypatch):
    app = telemetry_app_factory()
    complete_setup(app, allow_analytics=True)
    given_for = telemetry.client(app).catalogue_version
    change_catalogue(monkeypatch)
    upgraded = telemetry_app_factory()  # the same database and data folder, a newer catalogue
    upgraded_client = telemetry.client(upgraded)
    assert upgraded_client.catalogue_version != given_for
    assert upgraded_client.analytics_layer().reason.startswith("paused:")
    flush(app)
    before = len(otlp_receiver.events(LAYER_ANALYTICS))
    _start_and_stop_timer_as(upgraded, 1)
    flush(upgraded)
    assert len(otlp_receiver.events(LAYER_ANALYTICS)) == before  # paused at the wire

    admin = upgraded.test_client()
    assert login(admin, "admin", ADMIN_PASSWORD).status_code == 302
    page = admin.get("/admin/telemetry").get_data(as_text=True)
    changes = re.findall(r'data-testid="change">(.*?)</li>', page)
    assert any("timesheet.saved" in c and "New event" in c for c in changes), changes
    assert any("timer.started" in c and "has_notes" in c for c in changes), changes
    # A stale form (another version) accepts nothing.
    assert admin.post_form("/admin/telemetry/accept-catalogue", {"version": given_for},
                           token_page="/admin/telemetry").status_code == 303
    assert upgraded_client.analytics_layer().reason.startswith("paused:")
    assert admin.post_form("/admin/telemetry/accept-catalogue",
                           {"version": upgraded_client.catalogue_version},
                           token_page="/admin/telemetry").status_code == 303
    assert upgraded_client.analytics_layer().enabled
    _start_and_stop_timer_as(upgraded, 1)
    flush(upgraded)
    names = [r["event_name"] for r in otlp_receiver.events(LAYER_ANALYTICS)[before:]]
    assert "timer.started" in names and "telemetry.preference_changed" in names


def test_privacy_doc_lists_the_base_fields_from_the_catalogue():
    assert render_base_fields() in PRIVACY_MD.read_text()


def test_the_base_layer_cannot_change_without_a_changelog_line():
    # A change to the base layer changes base_version(); the newest changelog entry must name it,
    # and docs/events.md (kept equal to the catalogue by test_docs) prints the changelog.
    assert catalogue.BASE_CHANGELOG[-1][1] == catalogue.base_version()


def test_the_log_says_each_layer_at_start_and_counts_per_exported_batch(telemetry_app_factory):
    from tests.support.otlp import start_receiver

    receiver = start_receiver("ok")
    try:
        url = receiver.url.replace("http://", "http://someone:s3cret-pw@")
        app = telemetry_app_factory(GRAFANA_OTLP_ENDPOINT=url)
        complete_setup(app, allow_analytics=True)
        _start_and_stop_timer_as(app, 1)
        flush(app)
        lines = [json.loads(line) for line in
                 (Path(app.config["LOG_DIR"]) / "app.jsonl").read_text().splitlines()]
    finally:
        receiver.stop()
    started = [line for line in lines if line["message"] == "telemetry.layers"]
    assert started and started[-1]["endpoint"] == \
        receiver.url.replace("http://", "http://***:***@") + "/v1/logs"
    assert started[-1]["base_telemetry"].startswith("off: setup is not complete")
    batches = [line for line in lines if line["message"] == "telemetry.batch_exported"]
    counted = {}
    for line in batches:
        for name, count in line["events"].items():
            counted[name] = counted.get(name, 0) + count
    assert counted.get("timer.started") == 1 and counted.get("base_telemetry.first_seen") == 1
    text = "\n".join(json.dumps(line) for line in lines)
    assert "s3cret-pw" not in text
    assert not any("attributes" in line for line in batches)  # counts, never payloads
