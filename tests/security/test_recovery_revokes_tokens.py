"""Issue 20 item 5: recovery ends every credential the user chose. A password change and
an admin's reset revoke the user's API tokens unless the box (ticked by default) is
unticked; "Sign out everywhere" revokes them; the API answers 401 for a revoked token."""

from __future__ import annotations

import re

import pytest

from app.services import api_tokens
from app.services.users import find_by_username
from tests.conftest import USER_PASSWORD, login

NEW_PASSWORD = "a-brand-new-password-9"
_TICKED_BOX = re.compile(r'<input[^>]*name="(?:password|reset)-revoke_tokens"[^>]*>')


def _token(app, username="alice") -> str:
    with app.app_context():
        return api_tokens.create_token(find_by_username(username), "script").secret


def _api_status(app, secret) -> int:
    return app.test_client().get(
        "/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).status_code


@pytest.fixture
def alice(ready_app, make_user):
    make_user("alice")
    client = ready_app.test_client()
    assert login(client, "alice", USER_PASSWORD).status_code == 302
    return client


def _change_password(client, **extra):
    return client.post_form("/profile", {
        "password-current_password": USER_PASSWORD, "password-new_password": NEW_PASSWORD,
        "password-confirm_password": NEW_PASSWORD, **extra}, token_page="/profile")


def test_the_revoke_box_is_ticked_on_both_password_forms(alice, admin_client, ready_app):
    for client, page in ((alice, "/profile"), (admin_client, "/admin/users/2")):
        boxes = _TICKED_BOX.findall(client.get(page).get_data(as_text=True))
        assert len(boxes) == 1 and "checked" in boxes[0], (page, boxes)


def test_a_password_change_revokes_the_tokens_when_ticked(alice, ready_app):
    secret, other_user = _token(ready_app), _token(ready_app, "admin")
    assert _api_status(ready_app, secret) == 200
    response = _change_password(alice, **{"password-revoke_tokens": "y"})
    assert response.status_code == 302
    assert _api_status(ready_app, secret) == 401
    assert _api_status(ready_app, other_user) == 200  # only alice's
    assert "API tokens revoked" in alice.get("/profile").get_data(as_text=True)


def test_a_password_change_keeps_the_tokens_when_unticked(alice, ready_app):
    secret = _token(ready_app)
    assert _change_password(alice).status_code == 302  # box absent = unticked
    assert _api_status(ready_app, secret) == 200


@pytest.mark.parametrize("ticked, expected", [(True, 401), (False, 200)])
def test_an_admin_reset_revokes_the_tokens_unless_unticked(ready_app, make_user, admin_client,
                                                            ticked, expected):
    user_id = make_user("alice")
    secret = _token(ready_app)
    form = {"reset-new_password": NEW_PASSWORD, **({"reset-revoke_tokens": "y"} if ticked else {})}
    assert admin_client.post_form(f"/admin/users/{user_id}", form).status_code == 302
    assert _api_status(ready_app, secret) == expected


def test_sign_out_everywhere_revokes_the_tokens(alice, ready_app):
    secret = _token(ready_app)
    page = alice.get("/profile").get_data(as_text=True)
    assert "Sign out everywhere" in page
    assert alice.post_form("/logout", {"revoke_tokens": "y"}, token_page="/profile").status_code == 302
    assert _api_status(ready_app, secret) == 401
    body = ready_app.test_client().get(
        "/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).get_json()
    assert "revoked" in body["error"]["message"]


def test_the_top_bar_sign_out_ends_sessions_but_keeps_tokens(alice, ready_app):
    secret = _token(ready_app)
    assert alice.post_form("/logout", {}).status_code == 302
    assert alice.get("/").status_code == 302
    assert _api_status(ready_app, secret) == 200
