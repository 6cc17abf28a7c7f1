"""The first-run wizard: every page redirects to it until an admin exists."""

from __future__ import annotations

import pytest

from app.extensions import db
from app.models import Settings, User
from tests.conftest import ADMIN_PASSWORD, count_rows, form_refused


@pytest.mark.parametrize("path", ["/", "/entries", "/login", "/admin/settings", "/clients"])
def test_every_page_redirects_to_setup_until_it_is_complete(app, path):
    response = app.test_client().get(path)
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/setup")


def test_health_endpoints_answer_before_setup(app):
    client = app.test_client()
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").get_json() == {"status": "ok", "database": "ok"}


def test_wizard_has_analytics_unticked_and_says_nothing_is_sent_without_an_endpoint(app):
    # With an endpoint the wizard lists the base fields (tests/telemetry/test_transparency.py).
    html = app.test_client().get("/setup").get_data(as_text=True)
    checkbox = next(line for line in html.splitlines() if 'name="allow_analytics"' in line)
    assert "checked" not in checkbox
    assert 'data-testid="telemetry-nothing-sent"' in html
    assert "no endpoint is configured" in html
    assert "DO_NOT_TRACK=1" in html
    assert "pseudonymous" in html and "anonymous usage" not in html


def _wizard_data(**overrides):
    data = {
        "company_name": "Acme Studio",
        "admin_username": "boss",
        "admin_email": "boss@example.org",
        "admin_password": ADMIN_PASSWORD,
        "confirm_password": ADMIN_PASSWORD,
        "timezone": "Europe/Berlin",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def test_wizard_creates_the_admin_records_no_consent_and_logs_in(app):
    client = app.test_client()
    response = client.post_form("/setup", _wizard_data(), token_page="/setup")
    assert response.status_code == 302
    assert client.get("/").status_code == 200  # signed in as the new admin
    with app.app_context():
        admin = db.session.query(User).one()
        settings = db.session.get(Settings, 1)
        assert (admin.username, admin.role, admin.timezone) == ("boss", "admin", "Europe/Berlin")
        assert admin.password_hash != ADMIN_PASSWORD and admin.check_password(ADMIN_PASSWORD)
        assert settings.allow_analytics is False
        assert settings.company_name == "Acme Studio"
        assert settings.setup_completed_at is not None


def test_wizard_records_an_explicit_opt_in(app):
    client = app.test_client()
    client.post_form("/setup", _wizard_data(allow_analytics="y"), token_page="/setup")
    with app.app_context():
        assert db.session.get(Settings, 1).allow_analytics is True


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"admin_username": ""}, "This field is required."),
        ({"admin_username": "no spaces allowed"}, "Username must be"),
        ({"confirm_password": "something-else"}, "The passwords do not match."),
        ({"admin_password": "short", "confirm_password": "short"}, "between 8 and 256 characters"),
        ({"admin_email": "not-an-email"}, "Email address is not valid."),
    ],
)
def test_wizard_rejects_bad_input_and_writes_nothing(app, overrides, message):
    client = app.test_client()
    response = client.post_form("/setup", _wizard_data(**overrides), token_page="/setup")
    assert form_refused(response, message)
    assert count_rows(app, User) == 0
    with app.app_context():
        assert db.session.get(Settings, 1).setup_completed_at is None


def test_wizard_is_closed_once_setup_is_complete(client):
    response = client.post_form(
        "/setup", _wizard_data(admin_username="intruder"), token_page="/login"
    )
    assert response.status_code == 302
    with client.application.app_context():
        assert db.session.query(User).filter_by(username="intruder").count() == 0
