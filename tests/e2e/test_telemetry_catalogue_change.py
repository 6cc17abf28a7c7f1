"""In a real browser: after an upgrade that changes the event catalogue, detailed analytics is
paused at the wire, Admin → Telemetry lists what changed, and one click resumes it."""

from __future__ import annotations

import re

import pytest

from app import telemetry
from app.telemetry.catalogue import EVENTS, Prop
from tests.e2e.accounts import PASSWORD, sign_in
from tests.telemetry.conftest import analytics_event, otlp_receiver  # noqa: F401  (the real receiver fixture)

pytestmark = pytest.mark.e2e


def _create_client(page, base: str, name: str) -> None:
    page.goto(base + "/clients/new")
    page.get_by_label("Name").first.fill(name)
    page.get_by_role("button", name=re.compile("Save")).click()


def test_a_changed_catalogue_pauses_until_the_admin_accepts_the_listed_changes(
        serve_app, otlp_receiver, page, monkeypatch):  # noqa: F811
    from playwright.sync_api import expect

    config = dict(SCHEDULER_ENABLED=False, GRAFANA_OTLP_ENDPOINT=otlp_receiver.url,
                  TELEMETRY_BATCH_DELAY_MS=50)
    _, before = serve_app(**config)
    with before.app_context():
        from app.services.setup import complete_setup

        complete_setup(admin_username="chief", admin_password=PASSWORD, allow_analytics=True)
    telemetry.client(before).flush(5.0)

    # The upgrade: client.created gains a property and a new event appears.
    created = EVENTS["client.created"]
    monkeypatch.setitem(EVENTS, "client.created", analytics_event(
        "client.created", created.description, has_rate=Prop("bool", "Whether a rate was set.")))
    monkeypatch.setitem(EVENTS, "timesheet.saved",
                        analytics_event("timesheet.saved", "A week was saved."))
    base, upgraded = serve_app(SQLALCHEMY_DATABASE_URI=before.config["SQLALCHEMY_DATABASE_URI"],
                               **config)

    sign_in(page, base)
    _create_client(page, base, "Paused Client")
    telemetry.client(upgraded).flush(5.0)
    assert "client.created" not in otlp_receiver.names("analytics")  # paused at the wire

    page.goto(base + "/admin/telemetry")
    expect(page.get_by_test_id("analytics-state")).to_have_text("off")
    changes = page.get_by_test_id("catalogue-changes")
    expect(changes).to_contain_text("New event timesheet.saved")
    expect(changes).to_contain_text("client.created gains has_rate")
    page.shot("catalogue-changed")
    page.get_by_test_id("accept-catalogue").click()
    expect(page.get_by_test_id("analytics-state")).to_have_text("on")
    expect(page.get_by_test_id("catalogue-changes")).to_have_count(0)

    _create_client(page, base, "Resumed Client")
    telemetry.client(upgraded).flush(5.0)
    names = otlp_receiver.names("analytics")
    assert names.count("client.created") == 1 and "telemetry.preference_changed" in names
