"""Every catalogue action reports the same event from the web UI, the API and the CLI.

Issue 11's first "Done when": each row of ``tests/telemetry/actions.py`` is performed
through every place that offers it (a signed-in browser posting real forms with CSRF,
a personal token on ``/api/v1``, the real ``flask`` command) on an app whose detailed
analytics is opted in and whose telemetry goes to a real OTLP/HTTP receiver. The
receiver must then hold exactly one record of the action's event, with ``source`` set
to the place, the action's properties, the acting user's id, and no other catalogue
event besides page views. The static tests fail when a catalogue event has no emitter
or no row, when something emits an event the catalogue does not have, and when a
route calls ``track_event``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from app import events
from app.telemetry import client as telemetry_client
from app.telemetry.catalogue import (
    CONTEXT_PROPERTIES, EVENTS, LAYER_ANALYTICS, LAYER_BASE,
)
from app.telemetry.subscribers import EMITTERS, SELF_EMITTED
from tests.routes.test_oidc import CLIENT_ID as OIDC_CLIENT_ID
from tests.routes.test_oidc import CLIENT_SECRET as OIDC_CLIENT_SECRET
from tests.routes.test_oidc import Provider
from tests.support.otlp import start_receiver
from tests.support.polling import wait_for
from tests.telemetry.actions import ACTIONS, ALICE, CASES, World, case_id, seed

BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
ROUTES = Path(__file__).resolve().parents[2] / "app" / "routes"
ANALYTICS_EVENTS = {name for name, event in EVENTS.items() if event.layer == LAYER_ANALYTICS}
EMITTED_NAMES = {name for name, _properties in EMITTERS.values()}
# Attributes every analytics record may carry besides its event's own properties.
CONTEXT_ATTRIBUTES = {"source", "telemetry.layer", *CONTEXT_PROPERTIES}
# Domain signals that are deliberately no analytics event, and why.
NOT_ANALYTICS = {
    events.setup_completed: "setup starts the base layer (base_telemetry.first_seen); the "
                            "consent given at setup is not a preference change",
}


@pytest.fixture
def world(request, app_factory):
    """An app after setup with detailed analytics opted in, exporting to a real receiver
    (and trusting a real OpenID provider when the row being run signs in through one)."""
    callspec = getattr(request.node, "callspec", None)
    action = callspec.params.get("action") if callspec is not None else None
    provider = Provider() if action is not None and action.needs_oidc else None
    sso = {} if provider is None else {"OIDC_ISSUER": provider.issuer,
                                       "OIDC_CLIENT_ID": OIDC_CLIENT_ID,
                                       "OIDC_CLIENT_SECRET": OIDC_CLIENT_SECRET}
    receiver = start_receiver("ok")
    app = app_factory(GRAFANA_OTLP_ENDPOINT=receiver.url, TELEMETRY_BATCH_DELAY_MS=50,
                      TELEMETRY_EXPORT_TIMEOUT_SECONDS=1.0, **sso)
    built = World(app=app, receiver=receiver, oidc=provider)
    try:
        seed(built)
        yield built
    finally:
        telemetry_client(app).shutdown(3.0)
        receiver.stop()
        if provider is not None:
            provider.close()


def _flush(world: World) -> None:
    assert telemetry_client(world.app).flush(10.0), "the telemetry queue did not drain in 10 s"


def _analytics(records: list[dict]) -> list[dict]:
    return [r for r in records if r["attributes"].get("telemetry.layer") == LAYER_ANALYTICS]


def perform(world: World, action, path: str) -> tuple[dict, list[dict]]:
    """Prepare, open the window, perform ``action`` through ``path``; return the one record of
    its event at the receiver and every analytics record of the window."""
    way = action.way(path)
    if action.prepare is not None:
        action.prepare(world)
    if way.signed_in and way.actor is not None:
        # The sign-in (its auth.login and page views) happens before the action window.
        world.web(way.actor) if path == "web" else world.token(way.actor)
    if path == "cli":
        # A web request first, in this thread: its source must end with it.
        world.web(ALICE)
    _flush(world)
    before = len(world.receiver.records)

    way.perform(world)
    _flush(world)
    assert wait_for(lambda: any(r["event_name"] == action.event
                                for r in world.receiver.records[before:]), timeout=2.0), (
        f"{action.event} never reached the receiver from the {path}; got "
        f"{[r['event_name'] for r in world.receiver.records[before:]]}")
    during = _analytics(world.receiver.records[before:])
    matching = [r for r in during if r["event_name"] == action.event]
    assert len(matching) == 1, f"{len(matching)} {action.event} records for one action"
    return matching[0], during


def _case(action, path):
    marks = [pytest.mark.xfail(strict=True, reason=action.bug)] if action.bug else []
    return pytest.param(action, path, marks=marks, id=case_id((action, path)))


@pytest.mark.parametrize("action,path", [_case(action, path) for action, path in CASES])
def test_action_reports_its_event_with_source_at_the_receiver(world, action, path):
    record, during = perform(world, action, path)
    way = action.way(path)
    attributes = dict(record["attributes"])
    assert attributes.pop("source", None) == path
    assert attributes.pop("telemetry.layer") == LAYER_ANALYTICS
    assert attributes.pop("user_id", None) == world.user_id_attribute(way.actor)
    for name in ("browser_family", "device_type"):  # test_browser_context_... checks these
        attributes.pop(name, None)
    expected = action.expected_properties(world)
    assert set(expected) == set(EVENTS[action.event].properties) - {"source"}
    assert attributes == expected

    others = sorted({r["event_name"] for r in during} - {action.event, "page.viewed"})
    assert others == [], f"the {path} action {action.id} also reported {others}"
    if path != "web":
        assert [r for r in during if r["event_name"] == "page.viewed"] == []

    # Everything this app sent, from setup on, is a catalogue event with only its own
    # properties (plus the context ones for analytics).
    for sent in world.receiver.records:
        event = EVENTS.get(sent["event_name"])
        assert event is not None, f"{sent['event_name']!r} is not in the catalogue"
        allowed = set(event.properties) | {"telemetry.layer"}
        if event.layer == LAYER_ANALYTICS:
            allowed |= CONTEXT_ATTRIBUTES
        assert set(sent["attributes"]) <= allowed, (sent["event_name"],
                                                    set(sent["attributes"]) - allowed)
        assert sent["attributes"]["telemetry.layer"] == event.layer


BY_ID = {action.id: action for action in ACTIONS}
AGENT_CASES = [
    pytest.param(BY_ID["create-client"], "web", True, id="create-client-web"),
    pytest.param(BY_ID["create-client"], "api", False, id="create-client-api"),
    pytest.param(BY_ID["create-api-token"], "cli", False, id="create-api-token-cli"),
]


@pytest.mark.parametrize("action,path,from_browser", AGENT_CASES)
def test_browser_context_is_sent_for_web_requests_only(world, action, path, from_browser):
    world.user_agent = BROWSER
    record, _during = perform(world, action, path)
    context = {key: record["attributes"][key] for key in ("browser_family", "device_type")
               if key in record["attributes"]}
    assert context == ({"browser_family": "firefox", "device_type": "desktop"}
                       if from_browser else {})


# -- the table, the emitters and the catalogue agree -------------------------------------


def test_every_catalogue_analytics_event_has_an_emitter():
    missing = sorted(ANALYTICS_EVENTS - EMITTED_NAMES - SELF_EMITTED)
    assert missing == [], f"catalogue events nothing emits: {missing}"


def test_every_catalogue_analytics_event_has_a_row_in_the_action_table():
    missing = sorted(ANALYTICS_EVENTS - {action.event for action in ACTIONS})
    assert missing == [], f"catalogue events with no action in tests/telemetry/actions.py: {missing}"


def test_every_emitted_event_is_in_the_catalogue():
    unknown = sorted((EMITTED_NAMES | SELF_EMITTED) - set(EVENTS))
    assert unknown == [], f"emitters name events the catalogue does not have: {unknown}"
    # A domain signal never produces a base event: the client sends those itself.
    assert {name for name in EMITTED_NAMES if EVENTS[name].layer != LAYER_ANALYTICS} == set()
    assert {name for name in SELF_EMITTED if EVENTS[name].layer == LAYER_BASE} == {
        name for name, event in EVENTS.items() if event.layer == LAYER_BASE}


def test_every_domain_signal_is_reported_or_deliberately_not():
    unreported = [signal.name for signal in events.ALL
                  if signal not in EMITTERS and signal not in NOT_ANALYTICS]
    assert unreported == [], f"domain signals no analytics event reports: {unreported}"


FIXED_ROWS = [action for action in ACTIONS if not callable(action.properties)]


@pytest.mark.parametrize("action", FIXED_ROWS, ids=[action.id for action in FIXED_ROWS])
def test_each_row_names_every_property_of_its_event(action):
    """A row checks all its event's own properties, so none can drift unnoticed (rows whose
    properties are computed after the action are checked the same way in the run)."""
    assert set(action.properties) == set(EVENTS[action.event].properties) - {"source"}


def test_every_action_can_be_performed_in_the_web_ui():
    assert [action.id for action in ACTIONS if action.web is None] == []


# -- routes never call track_event -------------------------------------------------------


def track_event_calls(source: str, filename: str = "<source>") -> list[str]:
    """Where ``source`` imports or calls ``track_event`` (or a telemetry client's ``track``)."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.ImportFrom) and any(a.name == "track_event" for a in node.names):
            found.append(f"{filename}:{node.lineno} imports track_event")
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else \
                func.attr if isinstance(func, ast.Attribute) else None
            if name == "track_event" or (isinstance(func, ast.Attribute) and name == "track"):
                found.append(f"{filename}:{node.lineno} calls {name}")
    return found


def test_no_module_under_app_routes_calls_track_event():
    modules = sorted(ROUTES.rglob("*.py"))
    assert len(modules) > 10  # the scan looks at the real blueprints
    found = [hit for module in modules
             for hit in track_event_calls(module.read_text(encoding="utf-8"), str(module))]
    assert found == [], "routes must announce domain events through services:\n" + "\n".join(found)


def test_the_route_scan_finds_each_way_of_calling_track_event():
    planted = (
        "from app.telemetry import track_event\n"
        "import app.telemetry as telemetry\n"
        "def view():\n"
        "    track_event('client.created')\n"
        "    telemetry.track_event('client.created')\n"
        "    telemetry.client().track('client.created')\n"
    )
    assert [hit.split(" ", 1)[1] for hit in track_event_calls(planted)] == [
        "imports track_event", "calls track_event", "calls track_event", "calls track"]


# -- an opt-out saved with other settings ------------------------------------------------

def test_saving_settings_with_analytics_unticked_sends_nothing_of_that_save(world, monkeypatch):
    import app.routes.admin as admin_views

    admin = world.web("admin")
    store_choice = admin_views._save_analytics_choice

    def consumer_exports_first(wanted):
        # The consumer thread may export at any moment; here: right around the moment the
        # analytics choice is stored (the opt-out must come before the save is announced).
        telemetry_client(world.app).flush(5.0)
        store_choice(wanted)

    monkeypatch.setattr(admin_views, "_save_analytics_choice", consumer_exports_first)
    _flush(world)
    before = len(world.receiver.records)
    response = admin.post_form("/admin/settings", {
        "company_name": "Acme Ltd", "default_timezone": "UTC", "currency": "EUR"},
        token_page="/admin/settings")
    assert response.status_code == 302
    with world.app.app_context():
        assert telemetry_client(world.app).status()["detailed_analytics"] is False
    _flush(world)
    sent = [(r["event_name"], r["attributes"]) for r in _analytics(world.receiver.records[before:])
            if r["event_name"] != "page.viewed"]
    assert sent == []
