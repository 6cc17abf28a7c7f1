"""Item 6: the session cookie is SameSite=Lax. Item 15: no-store on signed-in pages and API
JSON, HSTS when cookies are Secure, OPTIONS on API paths answers JSON."""

from __future__ import annotations

from tests.conftest import ADMIN_PASSWORD, login


def _set_cookie_headers(response, name):
    return [h for h in response.headers.getlist("Set-Cookie") if h.startswith(f"{name}=")]


def test_the_session_and_remember_cookies_are_samesite_lax_and_httponly(ready_app):
    client = ready_app.test_client()
    response = login(client, "admin", ADMIN_PASSWORD, remember="y")
    assert response.status_code == 302
    for name in ("session", "remember_token"):
        (header,) = _set_cookie_headers(response, name)
        assert "SameSite=Lax" in header and "HttpOnly" in header, header


def test_signed_in_pages_and_api_json_are_not_stored(ready_app, admin_client, admin_api):
    for url in ("/", "/entries", "/projects", "/reports", "/profile", "/admin/users"):
        assert admin_client.get(url).headers["Cache-Control"] == "no-store", url
    for url in ("/api/v1/me", "/api/v1/clients", "/api/v1/openapi.json"):
        assert admin_api.get(url).headers["Cache-Control"] == "no-store", url
    anonymous = ready_app.test_client()
    assert "no-store" not in anonymous.get("/login").headers.get("Cache-Control", "")
    static = admin_client.get("/static/css/app.css")
    static.close()
    assert "no-store" not in static.headers.get("Cache-Control", "")


def test_hsts_only_when_cookies_are_secure(app_factory):
    plain = app_factory()
    assert "Strict-Transport-Security" not in plain.test_client().get("/healthz").headers
    secure = app_factory(SESSION_COOKIE_SECURE=True, REMEMBER_COOKIE_SECURE=True)
    response = secure.test_client().get("/healthz", base_url="https://tt.example")
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000"


def test_options_on_api_paths_answers_json(ready_app, admin_api):
    anonymous = ready_app.test_client()
    for client, url in ((anonymous, "/api/v1/clients"), (anonymous, "/api/v1/openapi.json"),
                        (admin_api.client, "/api/v1/time-entries/1")):
        response = client.open(url, method="OPTIONS")
        assert response.status_code == 200 and response.is_json, url
        methods = response.get_json()["methods"]
        assert "OPTIONS" in methods and response.headers["Allow"] == ", ".join(methods)
    assert anonymous.open("/api/v1/nothing", method="OPTIONS").is_json
