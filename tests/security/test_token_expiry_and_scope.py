"""Item 17: tokens with an optional expiry and a read-only scope (CLI and profile page);
a reactivated user's old tokens stay dead."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta

import pytest

from app.extensions import db
from app.models import ApiToken, Client
from app.services import api_tokens
from app.services.errors import ValidationError
from app.services.users import find_by_username
from tests.api.conftest import ApiClient, error_of
from tests.conftest import count_rows


@pytest.mark.parametrize("text, lifetime", [("90d", timedelta(days=90)), ("12w", timedelta(weeks=12)),
                                            ("24h", timedelta(hours=24)), ("1y", timedelta(days=365)),
                                            ("never", None), ("", None)])
def test_lifetimes_parse(text, lifetime):
    assert api_tokens.parse_lifetime(text) == lifetime


@pytest.mark.parametrize("text", ["0d", "90", "90 days", "-1d", "6y", "99999d", "1m"])
def test_bad_lifetimes_are_refused(text):
    with pytest.raises(ValidationError):
        api_tokens.parse_lifetime(text)


def _expire(app, secret):
    with app.app_context():
        token = db.session.scalar(db.select(ApiToken).where(
            ApiToken.token_hash == api_tokens.hash_token(secret)))
        token.expires_at = token.created_at - timedelta(seconds=1)
        db.session.commit()


def test_an_expired_token_answers_401(ready_app):
    with ready_app.app_context():
        issued = api_tokens.create_token(find_by_username("admin"), "ci", expires_in="1d")
        assert issued.token.expires_at - issued.token.created_at == timedelta(days=1)
        secret = issued.secret
    api = ApiClient(ready_app.test_client(), secret)
    assert api.get("/api/v1/me").status_code == 200
    _expire(ready_app, secret)
    response = api.get("/api/v1/me")
    assert response.status_code == 401 and error_of(response)["code"] == "invalid_token"


def test_a_read_only_token_reads_but_cannot_write(ready_app):
    with ready_app.app_context():
        secret = api_tokens.create_token(find_by_username("admin"), "dash", scope="read").secret
    api = ApiClient(ready_app.test_client(), secret)
    assert api.get("/api/v1/clients").status_code == 200
    for call in (lambda: api.post("/api/v1/clients", json={"name": "Acme"}),
                 lambda: api.patch("/api/v1/clients/1", json={"name": "x"}),
                 lambda: api.delete("/api/v1/clients/1"),
                 lambda: api.post("/api/v1/timer/stop", json={})):
        response = call()
        assert response.status_code == 403 and error_of(response)["code"] == "read_only_token"
    assert count_rows(ready_app, Client) == 0


def test_the_cli_creates_expiring_and_read_only_tokens(ready_app, tmp_path):
    from tests.support.gunicorn import ROOT

    env_config = ready_app.config
    import os

    env = dict(os.environ, DATABASE_URL=env_config["SQLALCHEMY_DATABASE_URI"],
               DATA_DIR=env_config["DATA_DIR"], LOG_DIR=str(tmp_path / "logs"),
               SCHEDULER_ENABLED="false", TELEMETRY_DISABLED="true")
    result = subprocess.run([sys.executable, "-m", "flask", "--app", "app", "create-token", "admin",
                             "--name", "nightly", "--expires-in", "90d", "--read-only"],
                            env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    secret = result.stdout.strip().splitlines()[-1]
    with ready_app.app_context():
        token = api_tokens.authenticate(secret)
        assert token.scope == "read" and token.name == "nightly"
        assert token.expires_at - token.created_at == timedelta(days=90)
    bad = subprocess.run([sys.executable, "-m", "flask", "--app", "app", "create-token", "admin",
                          "--expires-in", "forever"], env=env, cwd=ROOT, capture_output=True,
                         text=True, timeout=60)
    assert bad.returncode == 1 and "Expiry must look like" in bad.stderr


def test_the_profile_page_creates_expiring_read_only_tokens(ready_app, admin_client):
    page = admin_client.get("/profile").get_data(as_text=True)
    assert 'name="expires_in"' in page and 'name="read_only"' in page
    response = admin_client.post_form("/profile/tokens", {
        "name": "grafana", "expires_in": "30d", "read_only": "y"}, token_page="/profile",
        follow_redirects=True)
    assert response.status_code == 200 and "tt_" in response.get_data(as_text=True)
    with ready_app.app_context():
        token = db.session.scalar(db.select(ApiToken).where(ApiToken.name == "grafana"))
        assert token.scope == "read" and token.expires_at - token.created_at == timedelta(days=30)
    listing = admin_client.get("/profile").get_data(as_text=True)
    assert "read-only" in listing
    assert admin_client.post_form("/profile/tokens", {"name": "x", "expires_in": "100y"},
                                  token_page="/profile").status_code == 302  # refused, flashed
    assert count_rows(ready_app, ApiToken) == 1


def test_a_reactivated_users_old_tokens_stay_dead(ready_app, make_user, make_token, admin_client):
    make_user("alice")
    api = ApiClient(ready_app.test_client(), make_token("alice"))
    assert api.get("/api/v1/me").status_code == 200
    for active in ("", "y"):
        data = {"user-role": "user", **({"user-active": active} if active else {})}
        assert admin_client.post_form("/admin/users/2", data,
                                      token_page="/admin/users/2").status_code == 302
    assert api.get("/api/v1/me").status_code == 401
