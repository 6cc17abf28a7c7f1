"""Every feature flag changes what a user sees when an admin switches it (Admin → Settings)."""

from __future__ import annotations

import pytest

from app.telemetry.flags import FLAGS
from tests.e2e.accounts import PASSWORD, sign_in

pytestmark = pytest.mark.e2e


def _set_flag(page, base: str, name: str, value: str) -> None:
    from playwright.sync_api import expect

    page.goto(f"{base}/admin/settings")
    row = page.locator("tr", has=page.locator(f'[data-testid="flag-{name}"]'))
    row.locator("select[name=value]").select_option(value)
    row.locator("button[type=submit]").click()
    expect(page.locator(f'[data-testid="flag-{name}"]')).to_have_text(value)


def test_every_flag_has_a_browser_test_of_its_behaviour():
    # A new flag must come with a test below that switches it and sees the difference.
    assert set(FLAGS) == {"reports_page"}


def test_reports_page_flag_hides_the_page_the_link_and_the_export(live_server, page):
    from playwright.sync_api import expect

    from app.services.setup import complete_setup

    base, app = live_server
    with app.app_context():
        complete_setup(admin_username="chief", admin_password=PASSWORD, allow_analytics=False)
    sign_in(page, base)
    nav_reports = page.locator("nav").get_by_role("link", name="Reports")
    expect(nav_reports).to_be_visible()

    _set_flag(page, base, "reports_page", "off")
    expect(nav_reports).to_have_count(0)
    assert page.goto(f"{base}/reports").status == 404
    assert page.goto(f"{base}/reports/export.csv").status == 404
    page.goto(f"{base}/entries")
    expect(page.locator("#export-csv")).to_have_count(0)

    _set_flag(page, base, "reports_page", "on")
    expect(nav_reports).to_be_visible()
    assert page.goto(f"{base}/reports").status == 200
    page.goto(f"{base}/entries")
    expect(page.locator("#export-csv")).to_be_visible()
