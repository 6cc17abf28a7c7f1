"""The admin panel: users and settings, for admins only."""

from __future__ import annotations

import pytest

from app.extensions import db
from app.models import Settings, User
from tests.conftest import USER_PASSWORD, count_rows, form_refused, login, login_refused

ADMIN_PAGES = ["/admin/users", "/admin/users/new", "/admin/settings", "/admin/users/1",
               "/clients/new", "/projects/new"]


@pytest.mark.parametrize("path", ADMIN_PAGES)
def test_users_get_403_on_admin_pages(user_client, path):
    assert user_client.get(path).status_code == 403


@pytest.mark.parametrize("path", ADMIN_PAGES)
def test_anonymous_visitors_are_sent_to_sign_in(client, path):
    response = client.get(path)
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_a_user_cannot_change_settings_by_posting(user_client):
    response = user_client.post_form(
        "/admin/settings", {"company_name": "Hacked", "default_timezone": "UTC", "currency": "EUR"}
    )
    assert response.status_code == 403
    with user_client.application.app_context():
        assert db.session.get(Settings, 1).company_name == "TimeTracker"


def test_admin_creates_a_user_who_can_sign_in(admin_client):
    response = admin_client.post_form(
        "/admin/users/new",
        {"username": "carol", "password": USER_PASSWORD, "role": "user", "timezone": "Europe/Paris"},
    )
    assert response.status_code == 302
    assert login(admin_client.application.test_client(), "carol", USER_PASSWORD).status_code == 302


def test_duplicate_username_is_refused(admin_client):
    response = admin_client.post_form(
        "/admin/users/new", {"username": "admin", "password": USER_PASSWORD, "role": "user",
                             "timezone": "UTC"},
    )
    assert form_refused(response, "That username is taken.")
    assert count_rows(admin_client.application, User) == 1


def test_admin_deactivates_promotes_and_resets_password(admin_client, make_user):
    user_id = make_user("dave")
    app = admin_client.application
    assert admin_client.post_form(f"/admin/users/{user_id}", {"user-role": "admin"}).status_code == 302
    with app.app_context():
        user = db.session.get(User, user_id)
        assert (user.role, user.active) == ("admin", False)  # unticked box = deactivated
    assert login_refused(login(app.test_client(), "dave", USER_PASSWORD))
    admin_client.post_form(f"/admin/users/{user_id}", {"user-role": "user", "user-active": "y"})
    admin_client.post_form(f"/admin/users/{user_id}", {"reset-new_password": "brand-new-pass"})
    assert login(app.test_client(), "dave", "brand-new-pass").status_code == 302


def test_the_last_admin_cannot_demote_or_deactivate_themselves(admin_client):
    response = admin_client.post_form("/admin/users/1", {"user-role": "user", "user-active": "y"})
    assert form_refused(response, "at least one active admin")
    with admin_client.application.app_context():
        assert db.session.get(User, 1).role == "admin"


def test_admin_updates_settings(admin_client):
    response = admin_client.post_form(
        "/admin/settings",
        {"company_name": "Acme GmbH", "default_timezone": "Europe/Berlin", "currency": "CHF",
         "allow_analytics": "y"},
    )
    assert response.status_code == 302
    with admin_client.application.app_context():
        settings = db.session.get(Settings, 1)
        assert (settings.company_name, settings.currency, settings.allow_analytics) == (
            "Acme GmbH", "CHF", True,
        )
    assert "Acme GmbH" in admin_client.get("/").get_data(as_text=True)


@pytest.mark.parametrize(
    "data, message",
    [
        ({"company_name": "", "default_timezone": "UTC", "currency": "EUR"}, "This field is required."),
        ({"company_name": "X", "default_timezone": "Nowhere/City", "currency": "EUR"}, "Unknown time zone."),
        ({"company_name": "X", "default_timezone": "UTC", "currency": "XXX"}, "Unknown currency."),
    ],
)
def test_bad_settings_are_refused_and_nothing_changes(admin_client, data, message):
    response = admin_client.post_form("/admin/settings", data)
    assert form_refused(response, message)
    with admin_client.application.app_context():
        db.session.expire_all()
        settings = db.session.get(Settings, 1)
        assert (settings.company_name, settings.default_timezone, settings.currency) == (
            "TimeTracker", "UTC", "EUR",
        )
