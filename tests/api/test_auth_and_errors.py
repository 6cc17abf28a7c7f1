"""API authentication (tokens only) and the JSON error contract."""

from __future__ import annotations

import pytest

from tests.conftest import ADMIN_PASSWORD

from .conftest import ApiClient, error_of


def test_before_setup_the_api_answers_json_503_not_a_redirect(app):
    response = app.test_client().get("/api/v1/me", headers={"Authorization": "Bearer tt_x"})
    assert response.status_code == 503
    assert error_of(response)["code"] == "unavailable"


def test_a_request_without_a_token_is_refused_with_401(client):
    response = client.get("/api/v1/me")
    assert response.status_code == 401
    assert error_of(response)["code"] == "missing_token"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("header", ["Basic YWRtaW46eA==", "Bearer", "Bearer    ", "tt_abc"])
def test_a_malformed_authorization_header_is_refused(client, header):
    response = client.get("/api/v1/me", headers={"Authorization": header})
    assert response.status_code == 401
    assert error_of(response)["code"] == "missing_token"


def test_an_unknown_token_is_refused(client):
    response = client.get("/api/v1/me", headers={"Authorization": "Bearer tt_not-a-real-token"})
    assert response.status_code == 401
    assert error_of(response)["code"] == "invalid_token"


def test_a_revoked_token_stops_working(ready_app, admin_api):
    from app.models import ApiToken
    from app.services.api_tokens import revoke_token
    from app.services.users import find_by_username

    assert admin_api.get("/api/v1/me").status_code == 200
    with ready_app.app_context():
        admin = find_by_username("admin")
        revoke_token(admin, ApiToken.query.filter_by(user_id=admin.id).one().id)
    response = admin_api.get("/api/v1/me")
    assert response.status_code == 401
    assert error_of(response)["code"] == "invalid_token"


def test_a_deactivated_users_token_stops_working(ready_app, user_api):
    from app.services.users import find_by_username, update_user

    assert user_api.get("/api/v1/me").status_code == 200
    with ready_app.app_context():
        admin, alice = find_by_username("admin"), find_by_username("alice")
        update_user(admin, alice.id, role="user", active=False)
    assert user_api.get("/api/v1/me").status_code == 401


def test_the_token_is_stored_hashed_and_records_last_use(ready_app, make_token):
    from app.models import ApiToken
    from app.extensions import db

    secret = make_token("admin", "laptop")
    with ready_app.app_context():
        token = db.session.scalars(db.select(ApiToken)).one()
        assert secret not in (token.token_hash, token.prefix)
        assert secret.startswith(token.prefix) and len(token.token_hash) == 64
        assert token.last_used_at is None
    ApiClient(ready_app.test_client(), secret).get("/api/v1/me")
    with ready_app.app_context():
        assert db.session.scalars(db.select(ApiToken)).one().last_used_at is not None


def test_a_browser_session_does_not_authenticate_the_api(admin_client):
    response = admin_client.get("/api/v1/me")
    assert response.status_code == 401


def test_api_responses_set_no_cookie_and_need_no_csrf(admin_api):
    response = admin_api.post("/api/v1/clients", json={"name": "Acme"})
    assert response.status_code == 201
    assert "Set-Cookie" not in response.headers


def test_the_token_acts_with_its_users_role(user_api):
    response = user_api.post("/api/v1/clients", json={"name": "Acme"})
    assert response.status_code == 403
    assert error_of(response)["code"] == "forbidden"


def test_unknown_api_paths_answer_json_404(admin_api):
    for path in ("/api/v1/nothing-here", "/api/v1/clients/abc", "/api/v2/me", "/api/v1/clients/"):
        response = admin_api.get(path)
        assert response.status_code == 404, path
        assert error_of(response)["code"] == "not_found"


def test_a_wrong_method_answers_json_405_with_allow(admin_api):
    response = admin_api.delete("/api/v1/me")
    assert response.status_code == 405
    assert error_of(response)["code"] == "method_not_allowed"
    assert "GET" in response.headers["Allow"]


def test_a_body_over_the_limit_answers_json_413(admin_api):
    response = admin_api.post(
        "/api/v1/clients", data=b'{"name": "' + b"x" * (2 * 1024 * 1024) + b'"}',
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert error_of(response)["code"] == "payload_too_large"


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b'"text"', b"null", b""])
def test_bad_json_answers_400(admin_api, raw):
    response = admin_api.post("/api/v1/clients", data=raw,
                              headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert error_of(response)["code"] == "invalid_json"


def test_a_form_body_answers_415(admin_api):
    response = admin_api.post("/api/v1/clients", data={"name": "Acme"})
    assert response.status_code == 415
    assert error_of(response)["code"] == "unsupported_media_type"


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "name"),
        ({"name": 5}, "name"),
        ({"name": None}, "name"),
        ({"name": "Acme", "default_hourly_rate": True}, "default_hourly_rate"),
        ({"name": "Acme", "default_hourly_rate": "lots"}, "default_hourly_rate"),
        ({"name": "Acme", "default_hourly_rate": -1}, "default_hourly_rate"),
        ({"name": "Acme", "colour": "red"}, "colour"),
        ({"name": "   "}, "name"),
    ],
)
def test_validation_failures_name_the_field(admin_api, body, field):
    response = admin_api.post("/api/v1/clients", json=body)
    assert response.status_code == 400, response.get_json()
    error = error_of(response)
    assert error["code"] == "validation_error"
    assert error["field"] == field


@pytest.mark.parametrize(
    "url",
    ["/api/v1/time-entries?page=0", "/api/v1/time-entries?page=x",
     "/api/v1/time-entries?per_page=101", "/api/v1/time-entries?start=2026-13-01",
     "/api/v1/time-entries?start=0001-01-01", "/api/v1/time-entries?project_id=-1",
     "/api/v1/time-entries?user_id=99999999999", "/api/v1/reports/summary?billable=maybe",
     "/api/v1/reports/summary?group_by=week",
     "/api/v1/reports/summary?start=2026-01-10&end=2026-01-01",
     "/api/v1/reports/summary?start=2020-01-01&end=2026-01-01",
     "/api/v1/time-entries/export.csv?end=9999-12-31", "/api/v1/tasks?status=finished"],
)
def test_bad_query_parameters_answer_400(admin_api, url):
    response = admin_api.get(url)
    assert response.status_code == 400
    assert error_of(response)["code"] == "validation_error"


def test_password_login_cannot_be_used_as_a_token(client):
    response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {ADMIN_PASSWORD}"})
    assert response.status_code == 401
