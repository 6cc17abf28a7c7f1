"""Fixtures for the REST API tests: tokens and a client that sends them."""

from __future__ import annotations

import pytest


class ApiClient:
    """Wraps a Flask test client: every request carries ``Authorization: Bearer``."""

    def __init__(self, client, token: str | None):
        self.client, self.token = client, token

    def _headers(self, headers):
        merged = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        merged.update(headers or {})
        return merged

    def get(self, url, headers=None, **kwargs):
        return self.client.get(url, headers=self._headers(headers), **kwargs)

    def post(self, url, json=None, headers=None, **kwargs):
        return self.client.post(url, json=json, headers=self._headers(headers), **kwargs)

    def patch(self, url, json=None, headers=None, **kwargs):
        return self.client.patch(url, json=json, headers=self._headers(headers), **kwargs)

    def delete(self, url, headers=None, **kwargs):
        return self.client.delete(url, headers=self._headers(headers), **kwargs)


@pytest.fixture
def make_token(ready_app):
    """Create a token for a user (by username) through the service; returns the secret."""
    from app.services import api_tokens
    from app.services.users import find_by_username

    def make(username: str = "admin", name: str = "test") -> str:
        with ready_app.app_context():
            return api_tokens.create_token(find_by_username(username), name).secret

    return make


@pytest.fixture
def admin_api(ready_app, make_token) -> ApiClient:
    return ApiClient(ready_app.test_client(), make_token("admin"))


@pytest.fixture
def user_api(ready_app, make_user, make_token) -> ApiClient:
    make_user("alice", timezone="Europe/Berlin")
    return ApiClient(ready_app.test_client(), make_token("alice"))


def error_of(response) -> dict:
    """The error object of an API error response (and a check of its shape)."""
    assert response.is_json, response.get_data(as_text=True)[:200]
    body = response.get_json()
    assert set(body) == {"error"}
    assert {"code", "message"} <= set(body["error"])
    return body["error"]
