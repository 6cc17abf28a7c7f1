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
