"""Issue 20 item 4 under concurrency: real parallel requests against gunicorn on both
databases. While a changed catalogue pauses detailed analytics, an admin's decline on
Admin → Telemetry races another admin's settings save (only the currency changed); and two
admins accept and decline at once. Every round, the row holds one request's outcome, whole."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from tests.support.otlp import start_receiver
from tests.support.parallel import ADMIN_PASSWORD, WebSession, live_server, race

ROUNDS = 6
_OLD = "0ld0catalogue00"  # an opt-in given for a catalogue this server does not run
_BOX = re.compile(r'<input[^>]*name="allow_analytics"(?! *_)[^>]*>')
_VERSION = re.compile(r'name="version" value="([^"]+)"')


def _consent(engine) -> tuple:
    with engine.connect() as conn:
        return tuple(conn.execute(sa.text(
            "SELECT allow_analytics, analytics_catalogue_version, analytics_changed_by "
            "FROM settings WHERE id = 1")).one())


def _pause(engine) -> None:
    """The state an upgrade leaves: opted in, for an older catalogue."""
    with engine.begin() as conn:
        conn.execute(sa.text(
            "UPDATE settings SET allow_analytics = :on, analytics_catalogue_version = :old, "
            "analytics_changed_by = 'user:1 (setup)' WHERE id = 1"), {"on": True, "old": _OLD})


@pytest.fixture
def server(tmp_path, database_url):
    receiver = start_receiver("ok", keep_records=False)
    try:
        with live_server(tmp_path, database_url, TELEMETRY_DISABLED="false",
                         GRAFANA_OTLP_ENDPOINT=receiver.url) as live:
            admin = WebSession(live.url, "admin", ADMIN_PASSWORD)
            created = admin.post_form("/admin/users/new", {
                "username": "second", "password": ADMIN_PASSWORD, "role": "admin",
                "timezone": "UTC"}, token_page="/admin/users/new")
            assert created.status_code == 302, created.text[:500]
            second = WebSession(live.url, "second", ADMIN_PASSWORD)
            engine = sa.create_engine(database_url)
            try:
                yield live, admin, second, engine
            finally:
                engine.dispose()
    finally:
        receiver.stop()


def _ids(engine) -> tuple[int, int]:
    with engine.connect() as conn:
        rows = dict(conn.execute(sa.text("SELECT username, id FROM users")).all())
    return rows["admin"], rows["second"]


def _rendered_settings_form(session: WebSession) -> dict[str, str]:
    page = session.get("/admin/settings").text
    form = {"company_name": "Acme", "default_timezone": "UTC"}
    for name, value in re.findall(r'<input type="hidden" name="(allow_analytics_shown)" '
                                  r'value="([^"]*)"', page):
        form[name] = value
    if "checked" in _BOX.search(page).group(0):
        form["allow_analytics"] = "y"
    return form


def test_a_settings_save_never_accepts_or_undoes_a_decline(server):
    live, admin, second, engine = server
    first_id, second_id = _ids(engine)
    for round_number in range(ROUNDS):
        _pause(engine)
        # The settings form as a browser posts it: every field as rendered (the box too).
        settings_form = _rendered_settings_form(second)
        settings_token = second.csrf_token("/admin/settings")
        telemetry_token = admin.csrf_token("/admin/telemetry")
        currency = ("EUR", "USD")[round_number % 2]
        results = race([
            lambda: admin.post_form("/admin/telemetry/detailed-analytics", {"enabled": "off"},
                                    token=telemetry_token),
            lambda: second.post_form("/admin/settings", {**settings_form, "currency": currency},
                                     token=settings_token),
        ])
        assert [r.status_code for r in results] == [303, 302], f"round {round_number}"
        # The decline, whole; the settings save (its box posted as rendered) changed no consent.
        assert _consent(engine) == (False, _OLD, f"user:{first_id} (admin page)"), \
            f"round {round_number}"


def test_two_admins_accepting_and_declining_at_once_leave_one_outcome(server):
    live, admin, second, engine = server
    first_id, second_id = _ids(engine)
    version = _VERSION.search(admin.get("/admin/telemetry").text).group(1)
    accepted = (True, version, f"user:{first_id} (accepted catalogue {version})")
    # An opt-out leaves the version an earlier opt-in recorded: it says nothing once off.
    declined = (False, f"user:{second_id} (admin page)")
    for round_number in range(ROUNDS):
        _pause(engine)
        accept_token = admin.csrf_token("/admin/telemetry")
        decline_token = second.csrf_token("/admin/telemetry")
        results = race([
            lambda: admin.post_form("/admin/telemetry/accept-catalogue", {"version": version},
                                    token=accept_token),
            lambda: second.post_form("/admin/telemetry/detailed-analytics", {"enabled": "off"},
                                     token=decline_token),
        ])
        assert [r.status_code for r in results] == [303, 303], f"round {round_number}"
        state = _consent(engine)
        # Whichever landed last, its every column: never one's version with the other's name.
        if state[0]:
            assert state == accepted, f"round {round_number}: {state}"
        else:
            assert (state[0], state[2]) == declined, f"round {round_number}: {state}"
