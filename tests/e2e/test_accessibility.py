"""axe-core on every page, in light and in dark mode: no serious or critical violation.

axe-core comes from npm (tests/e2e/axe/package-lock.json, ``npm ci`` in ``make test``) and
is injected into the page by the test: it is never part of the app's static files.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from tests.conftest import require_or_skip
from tests.e2e.accounts import PASSWORD, sign_in

pytestmark = pytest.mark.e2e

AXE = Path(__file__).resolve().parent / "axe" / "node_modules" / "axe-core" / "axe.min.js"
RUN_AXE = """async () => {
  const result = await axe.run(document, {resultTypes: ['violations']});
  return result.violations
    .filter(v => v.impact === 'serious' || v.impact === 'critical')
    .map(v => v.id + ' (' + v.impact + '): ' + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(' | '));
}"""


def _data(app):
    from app.extensions import db
    from app.models import User
    from app.services import catalog, entries, timer
    from app.services.setup import complete_setup
    from app.services.users import create_user

    now = datetime.now(timezone.utc).replace(second=0, microsecond=0)
    with app.app_context():
        complete_setup(admin_username="chief", admin_password=PASSWORD, allow_analytics=False)
        admin = db.session.query(User).one()
        client = catalog.create_client(name="Acme", default_hourly_rate="80")
        project = catalog.create_project(name="Website", client_id=client.id)
        task = catalog.create_task(actor=None, project_id=project.id, name="Design")
        entry = entries.create_entry(admin, project_id=project.id, task_id=task.id,
                                     started_at=now - timedelta(hours=3),
                                     ended_at=now - timedelta(hours=2), notes="review",
                                     tags="meeting")
        timer.start_timer(admin, project_id=project.id, notes="running")
        user = create_user(username="worker", password=PASSWORD, role="user")
        return {"project": project.id, "task": task.id, "client": client.id,
                "entry": entry.id, "user": user.id, "day": now.date().isoformat()}


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_no_serious_or_critical_axe_violation_on_any_page(live_server, browser, scheme):
    from playwright.sync_api import expect

    require_or_skip(AXE.exists(), f"axe-core not installed: npm ci --prefix tests/e2e/axe ({AXE})")
    base, app = live_server
    ids = _data(app)
    # bypass_csp: the app's CSP rightly refuses the injected axe script; the test only.
    context = browser.new_context(viewport={"width": 1280, "height": 900}, color_scheme=scheme,
                                  locale="en-GB", timezone_id="UTC", bypass_csp=True)
    page = context.new_page()
    try:
        failures = {}

        def audit(label):
            page.wait_for_load_state("load")  # styles applied: contrast is measured on them
            page.add_script_tag(path=str(AXE))
            violations = page.evaluate(RUN_AXE)
            if violations:
                failures[label] = violations

        page.goto(base + "/login")
        audit("/login")
        sign_in(page, base)
        # The device's scheme applies: "auto" is every user's default.
        expect(page.locator("body")).to_have_css(
            "background-color", "rgb(11, 18, 32)" if scheme == "dark" else "rgb(245, 247, 251)")
        day = ids["day"]
        for path in ["/", "/entries", "/entries/new", f"/entries/{ids['entry']}/edit",
                     "/timesheet", "/projects", f"/projects/{ids['project']}", "/projects/new",
                     f"/tasks/{ids['task']}/edit", "/clients", "/clients/new",
                     f"/reports?start={day}&end={day}", f"/reports?start={day}&end={day}&group_by=tag",
                     "/reports?start=2026-03-10&end=2026-03-01", "/profile", "/admin/users",
                     "/admin/users/new", f"/admin/users/{ids['user']}", "/admin/settings"]:
            response = page.goto(base + path)
            assert response.status == 200, path
            audit(path)
        # An error state, and the shortcuts overlay, are pages too.
        page.goto(base + "/clients/new")
        page.get_by_role("button", name="Save client").click()
        expect(page.locator(".error").first).to_be_visible()
        audit("/clients/new (with errors)")
        page.goto(base + "/")
        page.keyboard.press("?")
        expect(page.locator("#shortcuts")).to_be_visible()
        audit("/ (shortcuts overlay)")
        assert failures == {}
    finally:
        context.close()
