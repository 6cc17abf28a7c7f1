"""Tags in Chromium: typed on an entry (created inline), filtered on, grouped by, exported."""

from __future__ import annotations

import csv

import pytest

from tests.e2e.accounts import PASSWORD, sign_in

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("width", [1280, 390])
def test_tags_from_entry_form_to_report_and_csv(live_server, page, width):
    from playwright.sync_api import expect

    from app.services import catalog
    from app.services.setup import complete_setup

    base, app = live_server
    page.set_viewport_size({"width": width, "height": 900})
    with app.app_context():
        complete_setup(admin_username="chief", admin_password=PASSWORD, allow_analytics=False)
        catalog.create_project(name="Alpha")
    sign_in(page, base)

    for start, end, tags in (("09:00", "10:00", "meeting, remote"), ("11:00", "13:00", "Remote")):
        page.goto(base + "/entries/new")
        page.get_by_label("Project").select_option(label="Alpha")
        page.get_by_label("Start").fill(f"2026-03-02T{start}")
        page.get_by_label("End", exact=True).fill(f"2026-03-02T{end}")
        page.get_by_label("Tags").fill(tags)
        page.get_by_role("button", name="Save").click()
        expect(page.locator(".flash-success")).to_contain_text("Time entry added")
    expect(page.locator("table")).to_contain_text("meeting")

    page.get_by_label("Tag", exact=True).select_option(label="meeting")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator(".pagination")).to_contain_text("1 entry ·")

    page.goto(base + "/reports?start=2026-03-02&end=2026-03-02&group_by=tag")
    table = page.locator("#report-table")
    expect(table.locator("tr[data-key]")).to_have_count(2)
    expect(table).to_contain_text("remote")  # the first spelling stays
    expect(page.locator("#total-hours")).to_have_text("3:00")  # not 4:00: counted once
    with page.expect_download() as info:
        page.locator("#export-csv").click()
    with open(info.value.path(), encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert sorted(r["tags"] for r in rows) == ["meeting; remote", "remote"]
