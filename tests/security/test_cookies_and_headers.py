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
