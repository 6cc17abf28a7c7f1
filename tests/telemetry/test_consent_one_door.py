"""Issue 20 item 4: one way to accept a changed catalogue. Only the places that show the
changes (Admin → Telemetry, `flask telemetry enable`, the API given the version) accept them;
Admin → Settings shows the pause, and changes consent only when its box was changed."""

from __future__ import annotations

import re

from app import telemetry
from app.telemetry.client import CATALOGUE_NOT_SHOWN
from tests.conftest import ADMIN_PASSWORD, login
from tests.telemetry.conftest import change_catalogue, complete_setup

_SETTINGS = {"company_name": "Acme Ltd", "default_timezone": "UTC", "currency": "USD"}


def _paused_app(telemetry_app_factory, monkeypatch):
    """Opted in at setup under one catalogue, then upgraded to a catalogue that sends more."""
    first = telemetry_app_factory()
    complete_setup(first, allow_analytics=True)
    given_for = telemetry.client(first).catalogue_version
    assert telemetry.client(first).state().consented_catalogue_version == given_for
    change_catalogue(monkeypatch)
    upgraded = telemetry_app_factory()
    assert telemetry.client(upgraded).consent_paused()
    return upgraded, given_for


def _admin(app):
    admin = app.test_client()
    assert login(admin, "admin", ADMIN_PASSWORD).status_code == 302
    return admin


def _box_and_shown(html: str) -> tuple[bool, str]:
    box = re.search(r'<input[^>]*name="allow_analytics"(?! *_)[^>]*>', html).group(0)
    shown = re.search(r'name="allow_analytics_shown" value="([01])"', html).group(1)
    return "checked" in box, shown


def test_saving_settings_for_another_reason_leaves_a_paused_opt_in_paused(
        telemetry_app_factory, monkeypatch):
    app, given_for = _paused_app(telemetry_app_factory, monkeypatch)
    before = telemetry.client(app).state()
    admin = _admin(app)
    page = admin.get("/admin/settings").get_data(as_text=True)
    # The page says it is paused, links to the changes, and renders what is in effect.
    assert 'data-testid="analytics-paused"' in page and 'href="/admin/telemetry"' in page
    ticked, shown = _box_and_shown(page)
    assert (ticked, shown) == (False, "0")
    # Only the currency changes; the box is posted as rendered (unticked).
    response = admin.post_form("/admin/settings", {**_SETTINGS, "allow_analytics_shown": shown},
                               token_page="/admin/settings")
    assert response.status_code == 302
    after = telemetry.client(app).state()
    assert after.consented_catalogue_version == given_for  # not accepted
    assert (after.telemetry_enabled, after.telemetry_changed_by, after.telemetry_changed_at) == (
        before.telemetry_enabled, before.telemetry_changed_by, before.telemetry_changed_at)
    assert telemetry.client(app).analytics_layer().reason.startswith("paused:")
    from app.services.settings import get_settings

    with app.app_context():
        assert get_settings().currency == "USD"  # the save itself went through


def test_ticking_the_box_while_paused_sends_to_the_review_and_accepts_nothing(
        telemetry_app_factory, monkeypatch):
    app, given_for = _paused_app(telemetry_app_factory, monkeypatch)
    admin = _admin(app)
    response = admin.post_form("/admin/settings", {**_SETTINGS, "allow_analytics": "y",
                                                   "allow_analytics_shown": "0"},
                               token_page="/admin/settings")
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/admin/telemetry")
    assert telemetry.client(app).state().consented_catalogue_version == given_for
    review = admin.get("/admin/telemetry").get_data(as_text=True)
    assert CATALOGUE_NOT_SHOWN in review  # the flash says why
    assert 'data-testid="catalogue-changes"' in review  # where the changes are shown


def test_a_box_posted_as_rendered_is_no_change_and_a_changed_one_is(telemetry_app_factory):
    app = telemetry_app_factory()
    complete_setup(app, allow_analytics=False)
    admin = _admin(app)
    ticked, shown = _box_and_shown(admin.get("/admin/settings").get_data(as_text=True))
    assert (ticked, shown) == (False, "0")
    changed_at = telemetry.client(app).state().telemetry_changed_at
    admin.post_form("/admin/settings", {**_SETTINGS, "allow_analytics_shown": "0"},
                    token_page="/admin/settings")
    assert telemetry.client(app).state().telemetry_changed_at == changed_at
    # Ticked by the admin (from off): a fresh opt-in, taken under the current catalogue.
    admin.post_form("/admin/settings", {**_SETTINGS, "allow_analytics": "y",
                                        "allow_analytics_shown": "0"},
                    token_page="/admin/settings")
    state = telemetry.client(app).state()
    assert state.telemetry_enabled is True
    assert state.consented_catalogue_version == telemetry.client(app).catalogue_version
    ticked, shown = _box_and_shown(admin.get("/admin/settings").get_data(as_text=True))
    assert (ticked, shown) == (True, "1")
    admin.post_form("/admin/settings", {**_SETTINGS, "allow_analytics_shown": "1"},
                    token_page="/admin/settings")  # unticked by the admin: an opt-out
    assert telemetry.client(app).state().telemetry_enabled is False


def test_admin_telemetry_accepts_with_the_version_it_showed(telemetry_app_factory, monkeypatch):
    app, given_for = _paused_app(telemetry_app_factory, monkeypatch)
    admin = _admin(app)
    page = admin.get("/admin/telemetry").get_data(as_text=True)
    assert not re.search(r'value="on" checked', page)  # paused: "On" is not in effect
    # A scripted "on" without the page's version is a fresh opt-in only: refused while paused.
    admin.post_form("/admin/telemetry/detailed-analytics", {"enabled": "on"},
                    token_page="/admin/telemetry")
    assert telemetry.client(app).state().consented_catalogue_version == given_for
    # A stale page's version accepts nothing either.
    admin.post_form("/admin/telemetry/detailed-analytics", {"enabled": "on", "version": given_for},
                    token_page="/admin/telemetry")
    assert telemetry.client(app).consent_paused()
    current = telemetry.client(app).catalogue_version
    admin.post_form("/admin/telemetry/detailed-analytics", {"enabled": "on", "version": current},
                    token_page="/admin/telemetry")
    assert telemetry.client(app).consent_in_effect()


def _admin_token(app) -> dict[str, str]:
    from app.services import api_tokens
    from app.services.users import find_by_username

    with app.app_context():
        secret = api_tokens.create_token(find_by_username("admin"), "t").secret
    return {"Authorization": f"Bearer {secret}"}


def test_the_api_accepts_only_with_the_catalogue_version(telemetry_app_factory, monkeypatch):
    app, given_for = _paused_app(telemetry_app_factory, monkeypatch)
    headers, http = _admin_token(app), app.test_client()
    body = http.get("/api/v1/admin/telemetry", headers=headers).get_json()
    assert body["catalogue_changes"]["added_events"] == ["timesheet.saved"]
    refused = http.put("/api/v1/admin/telemetry", json={"detailed_analytics": True},
                       headers=headers)
    assert refused.status_code == 409
    assert refused.get_json()["error"]["message"] == CATALOGUE_NOT_SHOWN
    stale = http.put("/api/v1/admin/telemetry", headers=headers,
                     json={"detailed_analytics": True, "catalogue_version": given_for})
    assert stale.status_code == 409
    assert telemetry.client(app).state().consented_catalogue_version == given_for
    accepted = http.put("/api/v1/admin/telemetry", headers=headers,
                        json={"detailed_analytics": True,
                              "catalogue_version": body["catalogue_version"]})
    assert accepted.status_code == 200
    assert accepted.get_json()["analytics"]["enabled"] is True


def test_cli_enable_prints_the_changes_it_accepts(telemetry_app_factory, monkeypatch):
    app, _ = _paused_app(telemetry_app_factory, monkeypatch)
    result = app.test_cli_runner().invoke(args=["telemetry", "enable"])
    assert result.exit_code == 0, result.output
    assert "which changed since the opt-in" in result.output and "timesheet.saved" in result.output
    assert telemetry.client(app).consent_in_effect()


def test_example_payloads_carry_a_sample_pseudonym_not_a_real_users(telemetry_app_factory):
    from app.telemetry.catalogue import EXAMPLE_PSEUDONYM

    app = telemetry_app_factory()
    complete_setup(app)
    client = telemetry.client(app)
    with app.app_context():
        real = {client.pseudonymous_id(user_id) for user_id in range(1, 5)}
        examples = client.example_payloads()
    assert {e["attributes"]["user_id"] for e in examples} == {EXAMPLE_PSEUDONYM}
    assert not real & {EXAMPLE_PSEUDONYM}
    page = _admin(app).get("/admin/telemetry").get_data(as_text=True)
    assert not any(pseudonym in page for pseudonym in real)
