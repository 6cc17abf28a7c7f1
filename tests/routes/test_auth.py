"""Signing in and out: generic errors, throttling, remember-me, no open redirects."""

from __future__ import annotations

import logging

import pytest

from tests.conftest import ADMIN_PASSWORD, USER_PASSWORD, form_refused, login, login_refused


def test_wrong_password_is_refused_with_a_generic_message(client):
    response = login(client, "admin", "wrong-password")
    assert login_refused(response)
    assert client.get("/").status_code == 302  # still signed out


def test_unknown_user_gets_the_same_answer_as_a_wrong_password(client):
    response = login(client, "nobody", "wrong-password")
    assert login_refused(response)


def test_login_and_logout(client):
    assert login(client, "admin", ADMIN_PASSWORD).headers["Location"] == "/"
    assert client.get("/").status_code == 200
    assert client.post_form("/logout", token_page="/").status_code == 302
    assert client.get("/").status_code == 302


def test_usernames_are_case_insensitive(client):
    assert login(client, "  ADMIN ", ADMIN_PASSWORD).status_code == 302


def test_remember_me_sets_a_persistent_cookie(client):
    response = login(client, "admin", ADMIN_PASSWORD, remember="y")
    cookies = response.headers.getlist("Set-Cookie")
    remember = [c for c in cookies if c.startswith("remember_token=")]
    assert remember and "HttpOnly" in remember[0] and "Expires=" in remember[0]


def test_without_remember_me_no_persistent_cookie(client):
    response = login(client, "admin", ADMIN_PASSWORD)
    assert not [c for c in response.headers.getlist("Set-Cookie") if c.startswith("remember_token=")]


def test_deactivated_user_cannot_sign_in(ready_app, make_user):
    from app.extensions import db
    from app.models import User

    user_id = make_user("bob")
    with ready_app.app_context():
        db.session.get(User, user_id).active = False
        db.session.commit()
    assert login_refused(login(ready_app.test_client(), "bob", USER_PASSWORD))


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "javascript:alert(1)"])
def test_next_parameter_cannot_redirect_off_site(client, target):
    response = client.post_form(
        f"/login?next={target}", {"username": "admin", "password": ADMIN_PASSWORD},
        token_page="/login",
    )
    assert response.headers["Location"] == "/"


def test_next_parameter_keeps_local_paths(client):
    response = client.post_form(
        "/login?next=/entries", {"username": "admin", "password": ADMIN_PASSWORD},
        token_page="/login",
    )
    assert response.headers["Location"] == "/entries"


def test_failed_logins_are_throttled_per_account(app_factory):
    from app.services.setup import complete_setup

    app = app_factory(LOGIN_RATE_LIMIT_PER_ACCOUNT="3 per 5 minutes")
    with app.app_context():
        complete_setup(admin_username="admin", admin_password=ADMIN_PASSWORD, allow_analytics=False)
    client = app.test_client()
    for _ in range(3):
        assert login_refused(login(client, "admin", "nope-nope"))
    # Now even the right password waits: the account is locked for the window.
    assert login(client, "admin", ADMIN_PASSWORD).status_code == 429
    # Another account from the same address is not affected by this limit.
    assert login_refused(login(client, "someone-else", "nope-nope"))


def test_failed_logins_are_throttled_per_client_address(app_factory):
    from app.services.setup import complete_setup

    app = app_factory(LOGIN_RATE_LIMIT_PER_ADDRESS="4 per 5 minutes")
    with app.app_context():
        complete_setup(admin_username="admin", admin_password=ADMIN_PASSWORD, allow_analytics=False)
    client = app.test_client()
    for n in range(4):
        assert login_refused(login(client, f"guess{n}", "nope-nope"))
    assert login(client, "guess-next", "nope-nope").status_code == 429
    other = app.test_client()
    other.environ_base["REMOTE_ADDR"] = "127.0.0.9"
    assert login(other, "admin", ADMIN_PASSWORD).status_code == 302


def test_successful_logins_do_not_count_against_the_limit(app_factory):
    from app.services.setup import complete_setup

    app = app_factory(LOGIN_RATE_LIMIT_PER_ACCOUNT="2 per 5 minutes")
    with app.app_context():
        complete_setup(admin_username="admin", admin_password=ADMIN_PASSWORD, allow_analytics=False)
    for _ in range(4):
        assert login(app.test_client(), "admin", ADMIN_PASSWORD).status_code == 302


def test_passwords_and_typed_usernames_never_reach_the_logs(client, caplog):
    caplog.set_level(logging.DEBUG)
    login(client, "typed-user-name", "Secret-Password-42")
    login(client, "admin", "Secret-Password-43")
    login(client, "admin", ADMIN_PASSWORD)
    text = caplog.text + " ".join(str(r.__dict__) for r in caplog.records)
    for secret in ("Secret-Password-42", "Secret-Password-43", ADMIN_PASSWORD, "typed-user-name"):
        assert secret not in text
    assert any(getattr(r, "reason", None) == "unknown_user" for r in caplog.records)


def test_post_without_csrf_token_is_refused_and_writes_nothing(admin_client):
    from app.models import Client
    from tests.conftest import count_rows

    response = admin_client.post_form("/clients/new", {"name": "Acme"}, csrf=False)
    assert response.status_code == 400
    assert "security token" in response.get_data(as_text=True)
    assert count_rows(admin_client.application, Client) == 0


def test_profile_changes_time_zone_and_password(user_client):
    response = user_client.post_form(
        "/profile",
        {"profile-display_name": "Alice A.", "profile-email": "", "profile-timezone": "Asia/Tokyo"},
        token_page="/profile",
    )
    assert response.status_code == 302
    assert "Asia/Tokyo" in user_client.get("/").get_data(as_text=True)
    bad = user_client.post_form(
        "/profile",
        {"password-current_password": "wrong", "password-new_password": "new-password-1",
         "password-confirm_password": "new-password-1"},
        token_page="/profile",
    )
    assert form_refused(bad, "Current password is wrong.")
    ok = user_client.post_form(
        "/profile",
        {"password-current_password": USER_PASSWORD, "password-new_password": "new-password-1",
         "password-confirm_password": "new-password-1"},
        token_page="/profile",
    )
    assert ok.status_code == 302


def test_profile_rejects_an_unknown_time_zone(user_client):
    response = user_client.post_form(
        "/profile", {"profile-timezone": "Mars/Olympus"}, token_page="/profile"
    )
    assert form_refused(response, "Unknown time zone.")


def test_oidc_button_is_hidden_unless_configured(client):
    html = client.get("/login").get_data(as_text=True)
    assert "single sign-on" not in html
    assert client.get("/login/oidc").status_code == 404


def test_behind_a_trusted_proxy_the_forwarded_address_is_throttled(app_factory):
    from app.services.setup import complete_setup

    app = app_factory(PROXY_FIX_X_FOR=1, LOGIN_RATE_LIMIT_PER_ADDRESS="2 per 5 minutes")
    with app.app_context():
        complete_setup(admin_username="admin", admin_password=ADMIN_PASSWORD, allow_analytics=False)
    attacker = app.test_client()
    attacker.environ_base["HTTP_X_FORWARDED_FOR"] = "203.0.113.7"
    for n in range(2):
        assert login_refused(login(attacker, f"guess{n}", "nope-nope"))
    assert login(attacker, "guess-2", "nope-nope").status_code == 429
    # Same proxy socket address, different real client: not locked out.
    colleague = app.test_client()
    colleague.environ_base["HTTP_X_FORWARDED_FOR"] = "198.51.100.20"
    assert login(colleague, "admin", ADMIN_PASSWORD).status_code == 302
