"""Single sign-on against a real (tiny) OpenID provider served on 127.0.0.1."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from app.extensions import db
from app.models import User

CLIENT_ID, CLIENT_SECRET = "timetracker", "s3cret-client"


class Provider:
    """Discovery, token endpoint and JWKS: enough of OIDC for the code flow."""

    def __init__(self):
        self.key = RSAKey.generate_key(2048, parameters={"kid": "test-key"})
        self.claims = {"sub": "user-42", "email": "sso.person@example.org",
                       "preferred_username": "sso.person"}
        self.nonce = None
        self.token_requests = []
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _json(self, payload, status=200):
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                if self.path == "/.well-known/openid-configuration":
                    self._json({
                        "issuer": provider.issuer,
                        "authorization_endpoint": provider.issuer + "/authorize",
                        "token_endpoint": provider.issuer + "/token",
                        "jwks_uri": provider.issuer + "/jwks",
                        "response_types_supported": ["code"],
                        "subject_types_supported": ["public"],
                        "id_token_signing_alg_values_supported": ["RS256"],
                    })
                elif self.path == "/jwks":
                    self._json({"keys": [provider.key.as_dict(private=False)]})
                else:
                    self._json({"error": "not_found"}, 404)

            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                form = parse_qs(self.rfile.read(length).decode())
                provider.token_requests.append(form)
                if form.get("code") != ["good-code"]:
                    self._json({"error": "invalid_grant"}, 400)
                    return
                now = int(time.time())
                id_token = jwt.encode(
                    {"alg": "RS256", "kid": "test-key"},
                    {"iss": provider.issuer, "aud": CLIENT_ID, "iat": now, "exp": now + 300,
                     "nonce": provider.nonce, **provider.claims},
                    provider.key,
                )
                self._json({"access_token": "at", "token_type": "Bearer", "expires_in": 300,
                            "id_token": id_token})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.issuer = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def provider():
    p = Provider()
    yield p
    p.close()


@pytest.fixture
def sso_app(app_factory, provider):
    from app.services.setup import complete_setup
    from tests.conftest import ADMIN_PASSWORD

    app = app_factory(OIDC_ISSUER=provider.issuer, OIDC_CLIENT_ID=CLIENT_ID,
                      OIDC_CLIENT_SECRET=CLIENT_SECRET)
    with app.app_context():
        complete_setup(admin_username="admin", admin_password=ADMIN_PASSWORD, allow_analytics=False)
    return app


def _begin(client, provider):
    response = client.get("/login/oidc")
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == provider.issuer + "/authorize"
    query = {k: v[0] for k, v in parse_qs(location.query).items()}
    assert query["client_id"] == CLIENT_ID and query["response_type"] == "code"
    provider.nonce = query["nonce"]
    return query


def test_sso_button_shows_when_configured(sso_app):
    assert "Sign in with single sign-on" in sso_app.test_client().get("/login").get_data(as_text=True)


def test_first_sso_login_creates_a_user_and_signs_in(sso_app, provider):
    client = sso_app.test_client()
    query = _begin(client, provider)
    response = client.get(f"/login/oidc/callback?code=good-code&state={query['state']}")
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert client.get("/").status_code == 200
    assert provider.token_requests[0]["code"] == ["good-code"]
    assert provider.token_requests[0]["redirect_uri"] == ["http://localhost/login/oidc/callback"]
    with sso_app.app_context():
        user = db.session.query(User).filter_by(oidc_subject="user-42").one()
        assert (user.username, user.role, user.password_hash) == ("sso.person", "user", None)
    # A second sign-in reuses the same account.
    again = sso_app.test_client()
    query = _begin(again, provider)
    again.get(f"/login/oidc/callback?code=good-code&state={query['state']}")
    with sso_app.app_context():
        assert db.session.query(User).filter_by(oidc_subject="user-42").count() == 1


def test_a_forged_state_or_bad_code_signs_nobody_in(sso_app, provider):
    client = sso_app.test_client()
    _begin(client, provider)
    forged = client.get("/login/oidc/callback?code=good-code&state=forged", follow_redirects=True)
    assert "Single sign-on failed" in forged.get_data(as_text=True)
    query = _begin(client, provider)
    bad = client.get(f"/login/oidc/callback?code=bad-code&state={query['state']}", follow_redirects=True)
    assert "Single sign-on failed" in bad.get_data(as_text=True)
    assert client.get("/").status_code == 302
    with sso_app.app_context():
        assert db.session.query(User).count() == 1  # only the admin


def _sso_sign_in(client, provider, next_page=None):
    response = client.get("/login/oidc" + (f"?next={next_page}" if next_page else ""))
    query = {k: v[0] for k, v in parse_qs(urlsplit(response.headers["Location"]).query).items()}
    provider.nonce = query["nonce"]
    return client.get(f"/login/oidc/callback?code=good-code&state={query['state']}")


def _set_password(client, password="a-local-password-1"):
    return client.post_form("/profile", {"password-new_password": password,
                                         "password-confirm_password": password},
                            token_page="/profile")


def _password_hash(app):
    with app.app_context():
        return db.session.query(User).filter_by(oidc_subject="user-42").one().password_hash


def test_an_sso_account_sets_a_password_right_after_signing_in(sso_app, provider):
    from tests.conftest import login

    client = sso_app.test_client()
    assert _sso_sign_in(client, provider).status_code == 302
    assert _set_password(client).status_code == 302
    assert login(sso_app.test_client(), "sso.person", "a-local-password-1").status_code == 302
    # One password per fresh sign-in: a second change now asks for the current password.
    again = client.post_form("/profile", {"password-new_password": "another-password-2",
                                          "password-confirm_password": "another-password-2"},
                             token_page="/profile")
    assert "Current password is wrong." in again.get_data(as_text=True)


@pytest.mark.parametrize("age_seconds", [6 * 60, None])
def test_an_sso_session_that_is_not_fresh_cannot_set_a_password(sso_app, provider, age_seconds):
    from app.routes.auth import SSO_SIGNED_IN_AT
    from app.services.users import SSO_REAUTH_NEEDED

    client = sso_app.test_client()
    _sso_sign_in(client, provider)
    with client.session_transaction() as session:
        if age_seconds is None:
            del session[SSO_SIGNED_IN_AT]  # e.g. a session from before this rule
        else:
            session[SSO_SIGNED_IN_AT] -= age_seconds
    response = _set_password(client)
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and SSO_REAUTH_NEEDED in page.replace("&#39;", "'")
    assert 'href="/login/oidc?next=/profile"' in page.replace("%2F", "/")
    assert _password_hash(sso_app) is None
    # The button's way: a fresh single sign-on comes back to the profile, and then it works.
    back = _sso_sign_in(client, provider, next_page="/profile")
    assert back.status_code == 302 and back.headers["Location"] == "/profile"
    assert _set_password(client).status_code == 302
    assert _password_hash(sso_app) is not None


GOOD_CLAIMS = {"sub": "user-42", "email": "mail.name@example.org",
               "preferred_username": "pref.name", "name": "Sso Person"}


@pytest.mark.parametrize("claims, username, email, display_name", [
    ({"preferred_username": ["pref.name", "other"]}, "mail.name", "mail.name@example.org", "Sso Person"),
    ({"preferred_username": 42}, "mail.name", "mail.name@example.org", "Sso Person"),
    ({"preferred_username": {"value": "x"}}, "mail.name", "mail.name@example.org", "Sso Person"),
    ({"preferred_username": None}, "mail.name", "mail.name@example.org", "Sso Person"),
    ({"email": ["a@example.org"]}, "pref.name", None, "Sso Person"),
    ({"preferred_username": [], "email": 7}, "user", None, "Sso Person"),
    ({"name": {"a": 1}}, "pref.name", "mail.name@example.org", None),
    ({"name": ["Sso", "Person"]}, "pref.name", "mail.name@example.org", None),
])
def test_claims_of_the_wrong_type_fall_back_to_the_next_claim(sso_app, provider, claims,
                                                              username, email, display_name):
    provider.claims = {**GOOD_CLAIMS, **claims}
    response = _sso_sign_in(sso_app.test_client(), provider)
    assert response.status_code == 302 and response.headers["Location"] == "/"
    with sso_app.app_context():
        user = db.session.query(User).filter_by(oidc_subject="user-42").one()
        assert (user.username, user.email, user.display_name) == (username, email, display_name)


FAILED = "Single sign-on failed. Try again or use your password."
NO_ID = "Single sign-on returned no account id."


# Authlib already refuses an ID token whose "sub" is no string; what it lets through
# (empty, longer than the column) the account lookup refuses.
@pytest.mark.parametrize("subject, message", [
    (["user-42"], FAILED), (42, FAILED), ({"id": 1}, FAILED), ("", NO_ID), ("x" * 300, NO_ID)])
def test_a_subject_that_is_no_usable_string_is_refused(sso_app, provider, subject, message):
    provider.claims = {"sub": subject, "preferred_username": "sso.person"}
    client = sso_app.test_client()
    response = _sso_sign_in(client, provider)
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    page = client.get("/login").get_data(as_text=True)
    assert message in page, page[page.find("<main"):][:1500]
    with sso_app.app_context():
        assert db.session.query(User).count() == 1  # only the admin
