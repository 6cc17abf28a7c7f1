"""Item 4: logout, a password change and an admin's reset end every other session of the
user (session and remember-me cookies), by one per-user session generation. Item 7: the
CSRF token is rotated at sign-in."""

from __future__ import annotations

import re

import pytest

from tests.conftest import ADMIN_PASSWORD, USER_PASSWORD, login

NEW_PASSWORD = "a-brand-new-password-9"


def _signed_in(client) -> bool:
    response = client.get("/")
    return response.status_code == 200


def _alice_clients(ready_app, make_user, n=2, remember=True):
    make_user("alice")
    clients = []
    for _ in range(n):
        client = ready_app.test_client()
        assert login(client, "alice", USER_PASSWORD,
                     **({"remember": "y"} if remember else {})).status_code == 302
        clients.append(client)
    return clients


def _replay(ready_app, cookies: dict):
    """A fresh browser holding copies of the given cookies (an attacker's, say)."""
    client = ready_app.test_client()
    for name, value in cookies.items():
        client.set_cookie(name, value)
    return client


def _cookies(client, *names):
    return {name: client.get_cookie(name).value for name in names if client.get_cookie(name)}


def test_logout_ends_every_session_and_remember_cookie_of_the_user(ready_app, make_user):
    first, second = _alice_clients(ready_app, make_user)
    copied = _cookies(first, "session", "remember_token")
    assert set(copied) == {"session", "remember_token"}
    assert first.post_form("/logout", {}).status_code == 302
    assert not _signed_in(first)
    assert not _signed_in(second)  # another device
    assert not _signed_in(_replay(ready_app, copied))  # the copied cookies of the first
    assert not _signed_in(_replay(ready_app, {"remember_token": copied["remember_token"]}))
    third = ready_app.test_client()  # signing in again works
    assert login(third, "alice", USER_PASSWORD).status_code == 302 and _signed_in(third)


def test_a_password_change_keeps_this_session_and_ends_the_others(ready_app, make_user):
    first, second = _alice_clients(ready_app, make_user)
    before = _cookies(first, "session", "remember_token")
    response = first.post_form("/profile", {
        "password-current_password": USER_PASSWORD, "password-new_password": NEW_PASSWORD,
        "password-confirm_password": NEW_PASSWORD}, token_page="/profile")
    assert response.status_code == 302
    assert _signed_in(first)
    assert not _signed_in(second)
    assert not _signed_in(_replay(ready_app, before))
    assert not _signed_in(_replay(ready_app, {"remember_token": before["remember_token"]}))
    # The remember-me cookie this session got anew works on its own.
    fresh = _cookies(first, "remember_token")
    assert _signed_in(_replay(ready_app, fresh))


def test_an_admin_reset_ends_every_session_of_that_user(ready_app, make_user, admin_client):
    (alice,) = _alice_clients(ready_app, make_user, n=1)
    copied = _cookies(alice, "session", "remember_token")
    response = admin_client.post_form("/admin/users/2", {"reset-new_password": NEW_PASSWORD},
                                      token_page="/admin/users/2")
    assert response.status_code == 302
    assert not _signed_in(alice)
    assert not _signed_in(_replay(ready_app, copied))
    assert _signed_in(admin_client)


def test_deactivation_then_reactivation_does_not_revive_old_sessions(
        ready_app, make_user, admin_client):
    (alice,) = _alice_clients(ready_app, make_user, n=1)
    for active in ("", "y"):
        data = {"user-role": "user", **({"user-active": active} if active else {})}
        assert admin_client.post_form("/admin/users/2", data,
                                      token_page="/admin/users/2").status_code == 302
    assert not _signed_in(alice)


def test_a_cookie_without_a_generation_is_refused(ready_app, make_user):
    """A session made before the upgrade (a bare id) or forged: not signed in."""
    from app.auth import load_user

    make_user("alice")
    with ready_app.app_context():
        assert load_user("2") is None
        assert load_user("2:0") is not None
        assert load_user("2:1") is None
        assert load_user(str(2**40) + ":0") is None


_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def test_the_csrf_token_is_rotated_at_sign_in(ready_app):
    client = ready_app.test_client()
    page = client.get("/login").get_data(as_text=True)
    before = _CSRF.search(page).group(1)
    raw_before = client.get_cookie("session").value
    assert client.post("/login", data={"username": "admin", "password": ADMIN_PASSWORD,
                                       "csrf_token": before}).status_code == 302
    after = _CSRF.search(client.get("/profile").get_data(as_text=True)).group(1)
    assert after != before
    # The pre-login token no longer passes a state-changing form of the signed-in session.
    response = client.post("/timer/stop", data={"csrf_token": before})
    assert response.status_code == 400 and "Form expired" in response.get_data(as_text=True)
    assert client.post("/timer/stop", data={"csrf_token": after}).status_code == 302
    assert raw_before != client.get_cookie("session").value
