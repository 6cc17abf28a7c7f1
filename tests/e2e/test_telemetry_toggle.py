"""In a real browser: an admin turns detailed analytics on, and the next action's event
reaches a real OTLP receiver; a user gets 403 on /admin/telemetry."""

from __future__ import annotations

import re

import pytest

from app import telemetry
from tests.e2e.accounts import PASSWORD, sign_in
from tests.telemetry.conftest import otlp_receiver  # noqa: F401  (the real receiver fixture)

pytestmark = pytest.mark.e2e


@pytest.fixture
def telemetry_server(serve_app, otlp_receiver):  # noqa: F811
    base, app = serve_app(SCHEDULER_ENABLED=False, GRAFANA_OTLP_ENDPOINT=otlp_receiver.url,
                          TELEMETRY_BATCH_DELAY_MS=50)
    with app.app_context():
        from app.services.setup import complete_setup
        from app.services.users import create_user

        complete_setup(admin_username="chief", admin_password=PASSWORD, allow_analytics=False)
        create_user(username="worker", password=PASSWORD, role="user", timezone="UTC")
    return base, app


def test_admin_turns_analytics_on_and_the_next_event_arrives(telemetry_server, otlp_receiver,  # noqa: F811
                                                             page, browser):
    from playwright.sync_api import expect

    base, app = telemetry_server
    sign_in(page, base, "chief")
    page.goto(base + "/admin/telemetry")
    expect(page.get_by_test_id("analytics-state")).to_have_text("off")
    telemetry.client(app).flush(5.0)
    assert otlp_receiver.names("analytics") == []
    page.get_by_label("On: share pseudonymous product events").check()
    page.get_by_test_id("save-telemetry").click()
    expect(page.get_by_test_id("analytics-state")).to_have_text("on")
    page.shot("telemetry-on")
    page.goto(base + "/clients/new")
    page.get_by_label("Name").first.fill("Browser Client")
    page.get_by_role("button", name=re.compile("Save")).click()
    telemetry.client(app).flush(5.0)
    assert "client.created" in otlp_receiver.names("analytics")
    assert b"Browser Client" not in otlp_receiver.raw

    other = browser.new_context().new_page()
    sign_in(other, base, "worker")
    response = other.goto(base + "/admin/telemetry")
    assert response.status == 403
    other.context.close()
