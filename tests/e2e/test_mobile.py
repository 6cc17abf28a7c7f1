"""Every page at 390 px wide: nothing scrolls sideways, no table column is hidden, the
navigation folds behind a Menu button."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest

from tests.e2e.accounts import PASSWORD, sign_in

pytestmark = pytest.mark.e2e

PHONE = {"width": 390, "height": 844}

# Every table cell that holds text must be on screen: displayed, not clipped to nothing,
# and inside the viewport horizontally (a hidden column or a table wider than the
# screen fails here).
OFFENDERS = """() => {
  const width = window.innerWidth;
  const problems = [];
  if (document.documentElement.scrollWidth > width) {
    problems.push('page is ' + document.documentElement.scrollWidth + ' px wide');
  }
  document.querySelectorAll('table').forEach((table, t) => {
    table.querySelectorAll('tbody td, tbody th').forEach((cell, c) => {
      if (!cell.textContent.trim() && !cell.querySelector('input, select, button, a')) return;
      const box = cell.getBoundingClientRect();
      const style = getComputedStyle(cell);
      if (style.display === 'none' || style.visibility === 'hidden' || box.width < 1 || box.height < 1) {
        problems.push('table ' + t + ' cell ' + c + ' hidden: ' + cell.textContent.trim().slice(0, 30));
      } else if (box.left < -1 || box.right > width + 1) {
        problems.push('table ' + t + ' cell ' + c + ' off screen (' + Math.round(box.left) + '..' +
                      Math.round(box.right) + '): ' + cell.textContent.trim().slice(0, 30));
      }
    });
  });
  return problems;
}"""


def _data(app):
    from app.extensions import db
    from app.models import User
    from app.services import api_tokens, catalog, entries
    from app.services.setup import complete_setup
    from app.services.users import create_user

    now = datetime.now(timezone.utc).replace(second=0, microsecond=0)
    with app.app_context():
        complete_setup(admin_username="chief", admin_password=PASSWORD, allow_analytics=False,
                       company_name="A rather long company name GmbH & Co. KG")
        admin = db.session.query(User).one()
        client = catalog.create_client(name="Acme Corporation International",
                                       default_hourly_rate="120,50")
        project = catalog.create_project(name="Website relaunch with a long name",
                                         client_id=client.id, hourly_rate="95")
        task = catalog.create_task(actor=None, project_id=project.id, name="Wireframes and prototypes")
        for n in range(3):
            start = now - timedelta(hours=3 + n * 24)
            entry = entries.create_entry(
                admin, project_id=project.id, task_id=task.id, started_at=start,
                ended_at=start + timedelta(minutes=75),
                notes="A long note about what was done, to test wrapping " * 2)
        api_tokens.create_token(admin, "laptop")
        other = create_user(username="worker", password=PASSWORD, role="user",
                            display_name="Wendy Worker", email="wendy@example.org")
        return {"project": project.id, "task": task.id, "client": client.id,
                "entry": entry.id, "user": other.id, "day": now.date()}


def test_every_page_fits_390px_with_every_column_visible(live_server, browser):
    from playwright.sync_api import expect

    base, app = live_server
    ids = _data(app)
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True,
                                  has_touch=True, locale="en-GB", timezone_id="UTC")
    page = context.new_page()
    try:
        page.goto(base + "/login")
        assert page.evaluate(OFFENDERS) == []
        sign_in(page, base)

        # The top bar folds: a Menu button, the links behind it.
        bar_height = page.locator(".topbar").bounding_box()["height"]
        page.screenshot(path=_shot("topbar"))
        assert bar_height <= 72, f"top bar is {bar_height} px tall"
        expect(page.get_by_role("link", name="Reports")).to_be_hidden()
        menu = page.get_by_role("button", name="Menu")
        menu.click()
        expect(menu).to_have_attribute("aria-expanded", "true")
        expect(page.get_by_role("link", name="Reports")).to_be_visible()
        page.get_by_role("link", name="Time entries").click()
        expect(page.get_by_role("heading", name="Time entries")).to_be_visible()

        day = ids["day"].isoformat()
        pages = [
            "/", "/entries", "/entries/new", f"/entries/{ids['entry']}/edit", "/timesheet",
            "/projects", f"/projects/{ids['project']}", "/projects/new",
            f"/projects/{ids['project']}/edit", f"/tasks/{ids['task']}/edit", "/clients",
            "/clients/new", f"/clients/{ids['client']}/edit",
            f"/reports?start={day}&end={day}", f"/reports?start={day}&end={day}&group_by=day",
            "/reports?start=2026-03-10&end=2026-03-01", "/profile", "/admin/users",
            "/admin/users/new", f"/admin/users/{ids['user']}", "/admin/settings",
        ]
        failures = {}
        for path in pages:
            response = page.goto(base + path)
            assert response.status == 200, path
            page.wait_for_load_state("load")
            problems = page.evaluate(OFFENDERS)
            if problems:
                failures[path] = problems
            page.screenshot(path=_shot(path), full_page=True)
        assert failures == {}
        # The cards name each value. The second column (Project here, for an admin) is the
        # one a CSS rule used to hide on phones.
        page.goto(base + "/entries")
        second = page.locator("table tbody tr").first.locator("td").nth(1)
        expect(second).to_have_attribute("data-label", "Project")
        expect(second).to_be_visible()
        expect(second).to_contain_text("Website relaunch")
    finally:
        context.close()


def _shot(path: str) -> str:
    from tests.e2e.conftest import ARTIFACTS

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    name = re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-") or "dashboard"
    return str(ARTIFACTS / f"mobile-390-{name}.png")
