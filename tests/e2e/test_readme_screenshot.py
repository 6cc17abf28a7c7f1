"""The README's dashboard picture, taken by the browser tests so it never goes stale.

The picture is saved under test-artifacts/ on every run; with TT_UPDATE_DOCS_IMAGES=1
(``make screenshots``) it also replaces docs/img/dashboard.png.
"""

from __future__ import annotations

import os
import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from tests.e2e.accounts import PASSWORD, sign_in
from tests.e2e.conftest import ARTIFACTS

pytestmark = pytest.mark.e2e

DOCS_IMAGE = Path(__file__).resolve().parents[2] / "docs" / "img" / "dashboard.png"


def test_the_readme_dashboard_screenshot(live_server, page):
    from playwright.sync_api import expect

    from app.extensions import db
    from app.models import User
    from app.services import catalog, entries, timer
    from app.services.setup import complete_setup

    base, app = live_server
    now = datetime.now(timezone.utc).replace(second=0, microsecond=0)
    with app.app_context():
        complete_setup(admin_username="chief", admin_password=PASSWORD, allow_analytics=False,
                       company_name="Acme Studio")
        admin = db.session.query(User).one()
        admin.display_name = "Sam"
        db.session.commit()
        acme = catalog.create_client(name="Acme Corp", default_hourly_rate="85")
        site = catalog.create_project(name="Website relaunch", client_id=acme.id, color="#2563eb")
        app_project = catalog.create_project(name="Mobile app", client_id=acme.id, color="#16a34a")
        internal = catalog.create_project(name="Internal", billable=False, color="#9333ea")
        wire = catalog.create_task(actor=None, project_id=site.id, name="Wireframes")
        for hours_ago, project, task, minutes, notes in (
                (2, site, wire, 50, "Homepage wireframes"), (5, app_project, None, 90,
                "Login screen review"), (26, internal, None, 30, "Team weekly"),
                (29, site, None, 120, "Kick-off workshop")):
            start = now - timedelta(hours=hours_ago)
            entries.create_entry(admin, project_id=project.id, task_id=task.id if task else None,
                                 started_at=start, ended_at=start + timedelta(minutes=minutes),
                                 notes=notes)
        timer.start_timer(admin, project_id=site.id, task_id=wire.id, notes="Pricing page")

    page.set_viewport_size({"width": 1280, "height": 820})
    sign_in(page, base)
    heading = page.get_by_role("heading", name="Hello, Sam")
    expect(heading).to_be_in_viewport(ratio=1)
    expect(page.get_by_role("link", name="Reports")).to_be_visible()
    expect(page.get_by_role("link", name="Timesheet")).to_be_visible()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    target = ARTIFACTS / "readme-dashboard.png"
    page.screenshot(path=str(target))  # the viewport: what a visitor sees first
    if os.environ.get("TT_UPDATE_DOCS_IMAGES") == "1":
        shutil.copyfile(target, DOCS_IMAGE)
