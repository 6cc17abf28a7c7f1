"""Reports in the browser: the chart draws, grouping switches, the CSV matches the entries."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta, timezone

import pytest

from tests.e2e.accounts import PASSWORD, sign_in

pytestmark = pytest.mark.e2e


CHART_HAS_INK = """() => {
  const c = document.querySelector('#report-chart');
  if (!c || !c.width || !c.height) return false;
  const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  for (let i = 3; i < data.length; i += 4) { if (data[i] !== 0) return true; }
  return false;
}"""


def test_reports_chart_grouping_and_csv(live_server, page):
    from playwright.sync_api import expect

    from app.extensions import db
    from app.models import User
    from app.services import catalog, entries
    from app.services.setup import complete_setup

    base, app = live_server
    now = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)
    with app.app_context():
        complete_setup(admin_username="chief", admin_password=PASSWORD, allow_analytics=False)
        admin = db.session.query(User).one()
        for name in ("Alpha", "Beta"):
            project = catalog.create_project(name=name)
            for n in range(3):
                start = now - timedelta(hours=2 + n * 3)
                entries.create_entry(admin, project_id=project.id, started_at=start,
                                     ended_at=start + timedelta(hours=1), notes=f"{name} {n}")

    sign_in(page, base)
    # An explicit range: the default preset (this week) would miss entries on a Monday morning.
    span = f"start={(now - timedelta(days=2)):%Y-%m-%d}&end={(now + timedelta(days=1)):%Y-%m-%d}"
    page.goto(base + "/reports?" + span)
    page.wait_for_function(CHART_HAS_INK)
    expect(page.locator("table").first).to_contain_text("Alpha")
    page.shot("01-by-project")

    # Changing the grouping re-runs the report by itself (reports.js submits the form);
    # clicking the button as well would race that navigation.
    with page.expect_navigation(url="**group_by=day**"):
        page.locator("select[name=group_by]").select_option("day")
    page.wait_for_function(CHART_HAS_INK)
    page.shot("02-by-day")

    with page.expect_download() as info:
        page.locator("#export-csv").click()
    with open(info.value.path(), encoding="utf-8-sig") as handle:
        text = handle.read()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 6
    notes = sorted(r.get("notes") or r.get("Notes") for r in rows)
    assert notes == sorted(f"{p} {n}" for p in ("Alpha", "Beta") for n in range(3))
