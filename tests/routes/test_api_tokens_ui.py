"""API tokens on the profile page and from the command line."""

from __future__ import annotations

import re

from app.extensions import db
from app.models import ApiToken


def test_profile_creates_a_token_shown_once_and_it_works(ready_app, user_client):
    page = user_client.get("/profile").get_data(as_text=True)
    assert 'id="api-tokens"' in page
    response = user_client.post_form("/profile/tokens", {"name": "laptop"}, token_page="/profile")
    assert response.status_code == 302 and response.headers["Location"] == "/profile/tokens/created"
    assert "tt_" not in response.headers.get("Set-Cookie", "")  # sealed, never in the clear
    response = user_client.get("/profile/tokens/created")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    secret = re.search(r'<code id="new-token">([^<]+)</code>', response.get_data(as_text=True)).group(1)
    api = ready_app.test_client()
    me = api.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
    assert me.status_code == 200 and me.get_json()["username"] == "alice"
    profile = user_client.get("/profile").get_data(as_text=True)
    assert "laptop" in profile and secret not in profile  # only the prefix is shown again


def test_profile_revokes_a_token(ready_app, user_client):
    response = user_client.post_form("/profile/tokens", {"name": "ci"}, token_page="/profile",
                                     follow_redirects=True)
    secret = re.search(r'<code id="new-token">([^<]+)</code>', response.get_data(as_text=True)).group(1)
    with ready_app.app_context():
        token_id = db.session.scalars(db.select(ApiToken.id)).one()
    response = user_client.post_form(f"/profile/tokens/{token_id}/revoke", token_page="/profile")
    assert response.status_code == 302
    api = ready_app.test_client()
    assert api.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 401
    assert "revoked" in user_client.get("/profile").get_data(as_text=True)


def test_users_cannot_revoke_each_others_tokens(ready_app, user_client, admin_client):
    admin_client.post_form("/profile/tokens", {"name": "admin's"}, token_page="/profile")
    with ready_app.app_context():
        token_id = db.session.scalars(db.select(ApiToken.id)).one()
    response = user_client.post_form(f"/profile/tokens/{token_id}/revoke", token_page="/profile")
    assert response.status_code == 404
    with ready_app.app_context():
        assert db.session.get(ApiToken, token_id).revoked_at is None


def test_creating_a_token_needs_a_name_and_csrf(ready_app, user_client):
    response = user_client.post_form("/profile/tokens", {"name": ""}, token_page="/profile")
    assert response.status_code == 302
    assert user_client.post_form("/profile/tokens", {"name": "x"}, csrf=False).status_code == 400
    with ready_app.app_context():
        assert db.session.scalars(db.select(ApiToken)).all() == []


def test_cli_create_token_prints_a_working_token(ready_app):
    result = ready_app.test_cli_runner().invoke(args=["create-token", "admin", "--name", "backup"])
    assert result.exit_code == 0, result.output
    secret = result.stdout.strip()  # log lines go to stderr; stdout is the answer alone
    assert secret.startswith("tt_")
    me = ready_app.test_client().get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
    assert me.get_json()["username"] == "admin"
    missing = ready_app.test_cli_runner().invoke(args=["create-token", "nobody"])
    assert missing.exit_code != 0 and "No active user" in missing.output


def test_reloading_the_created_page_makes_no_second_token_and_hides_the_secret(
        ready_app, user_client):
    """Post/redirect/get: the reload repeats the GET, which shows the secret only once."""
    first = user_client.post_form("/profile/tokens", {"name": "laptop"}, token_page="/profile",
                                  follow_redirects=True)
    secret = re.search(r'<code id="new-token">([^<]+)</code>', first.get_data(as_text=True)).group(1)
    reload = user_client.get("/profile/tokens/created", follow_redirects=True)
    body = reload.get_data(as_text=True)
    assert reload.status_code == 200 and secret not in body
    assert "shown only once" in body
    with ready_app.app_context():
        assert db.session.scalar(db.select(db.func.count(ApiToken.id))) == 1
