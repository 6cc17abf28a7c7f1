"""Issue 14's wrong numbers and broken flows, each as a user meets it in Chromium."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from tests.e2e.accounts import PASSWORD, sign_in
from tests.e2e.conftest import VIEWPORTS

pytestmark = pytest.mark.e2e


@pytest.fixture(params=sorted(VIEWPORTS))
def page(request, page):
    """Every flow here runs at desktop width and at 390 px."""
    page.set_viewport_size(VIEWPORTS[request.param])
    return page


def _seed(app, *, timezone_name="UTC"):
    """Setup done, admin "chief"; returns the admin's id."""
    from app.extensions import db
    from app.models import User
    from app.services.setup import complete_setup

    with app.app_context():
        complete_setup(admin_username="chief", admin_password=PASSWORD, allow_analytics=False)
        admin = db.session.query(User).one()
        admin.timezone = timezone_name
        db.session.commit()
        return admin.id


def _count(app, model):
    from sqlalchemy import func, select

    from app.extensions import db

    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def test_an_entry_two_weeks_ahead_is_not_in_today_or_this_week(live_server, page):
    from playwright.sync_api import expect

    from app.extensions import db
    from app.models import User
    from app.services import catalog, entries

    base, app = live_server
    admin_id = _seed(app)
    now = datetime.now(timezone.utc).replace(second=0, microsecond=0)
    midnight = now.replace(hour=0, minute=0)
    with app.app_context():
        project = catalog.create_project(name="Alpha")
        admin = db.session.get(User, admin_id)
        entries.create_entry(admin, project_id=project.id, started_at=midnight,
                             ended_at=midnight + timedelta(minutes=30))
        ahead = midnight + timedelta(days=14)
        entries.create_entry(admin, project_id=project.id, started_at=ahead,
                             ended_at=ahead + timedelta(hours=5))
    sign_in(page, base)
    expect(page.locator("#total-today")).to_have_text("0:30")
    expect(page.locator("#total-week")).to_have_text("0:30")


def test_a_manual_entry_on_a_non_billable_project_is_saved_non_billable(live_server, page):
    from playwright.sync_api import expect

    from app.extensions import db
    from app.models import TimeEntry
    from app.services import catalog

    base, app = live_server
    _seed(app)
    with app.app_context():
        catalog.create_project(name="Internal", billable=False)
        catalog.create_project(name="Client work", billable=True)
    sign_in(page, base)
    page.goto(base + "/entries/new")
    page.get_by_label("Project").select_option(label="Internal")
    billable = page.get_by_label("Billable")
    expect(billable.locator("option:checked")).to_have_text("As the project (not billable)")
    page.get_by_label("Start").fill("2026-03-02T09:00")
    page.get_by_label("End", exact=True).fill("2026-03-02T10:00")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".flash-success")).to_contain_text("Time entry added")
    with app.app_context():
        assert db.session.query(TimeEntry).one().billable is False


def test_reloading_after_creating_an_api_token_creates_no_second_token(live_server, page):
    from playwright.sync_api import expect

    from app.models import ApiToken

    base, app = live_server
    _seed(app)
    sign_in(page, base)
    page.goto(base + "/profile")
    page.get_by_label("Token name").fill("laptop")
    page.get_by_role("button", name="Create token").click()
    secret = page.locator("#new-token").inner_text()
    assert secret.startswith("tt_")
    page.reload()
    expect(page.locator(".flash-info")).to_contain_text("shown only once")
    assert secret not in page.content()
    assert _count(app, ApiToken) == 1


def test_deleting_from_a_filtered_list_keeps_the_filters(live_server, page):
    from playwright.sync_api import expect

    from app.extensions import db
    from app.models import User
    from app.services import catalog, entries

    base, app = live_server
    admin_id = _seed(app)
    with app.app_context():
        admin = db.session.get(User, admin_id)
        alpha, beta = catalog.create_project(name="Alpha"), catalog.create_project(name="Beta")
        for project in (alpha, alpha, beta):
            start = datetime(2026, 3, 2, 9)
            entries.create_entry(admin, project_id=project.id, started_at=start,
                                 ended_at=start + timedelta(hours=1))
        alpha_id = alpha.id
    sign_in(page, base)
    page.goto(f"{base}/entries?project_id={alpha_id}&start=2026-03-01")
    expect(page.locator(".pagination")).to_contain_text("2 entries")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete").first.click()
    expect(page.locator(".flash-success")).to_contain_text("Time entry deleted")
    assert f"project_id={alpha_id}" in page.url and "start=2026-03-01" in page.url
    expect(page.get_by_label("Project")).to_have_value(str(alpha_id))
    expect(page.locator(".pagination")).to_contain_text("1 entry ·")  # and not "1 entries"


def test_the_task_menu_shows_only_the_chosen_projects_group(live_server, page):
    from app.services import catalog

    base, app = live_server
    _seed(app)
    with app.app_context():
        for name in ("Alpha", "Beta", "Gamma"):
            project = catalog.create_project(name=name)
            catalog.create_task(actor=None, project_id=project.id, name=f"{name} design")
    sign_in(page, base)
    page.get_by_label("Project").select_option(label="Beta")
    visible_groups = page.evaluate("""() => [...document.querySelectorAll(
        '#timer-task_id optgroup')].filter(g => !g.hidden).map(g => g.label)""")
    assert visible_groups == ["Beta"]
    visible_tasks = page.evaluate("""() => [...document.querySelectorAll(
        '#timer-task_id option')].filter(o => !o.hidden).map(o => o.textContent)""")
    assert visible_tasks == ["— no task —", "Beta design"]


def test_a_time_in_the_spring_gap_is_refused_and_the_repeated_hour_is_asked_for(
        live_server, page):
    from playwright.sync_api import expect

    from app.models import TimeEntry
    from app.services import catalog

    base, app = live_server
    _seed(app, timezone_name="Europe/Berlin")
    with app.app_context():
        catalog.create_project(name="Night shift")
    sign_in(page, base)
    page.goto(base + "/entries/new")
    page.get_by_label("Project").select_option(label="Night shift")
    page.get_by_label("Start").fill("2026-03-29T02:30")
    page.get_by_label("End", exact=True).fill("2026-03-29T04:00")
    response_status = []
    page.on("response", lambda r: response_status.append(r.status) if r.request.method == "POST" else None)
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#started_at-error")).to_contain_text("does not exist in Europe/Berlin")
    assert response_status == [200]
    assert _count(app, TimeEntry) == 0

    page.get_by_label("Start").fill("2026-10-25T02:30")
    page.get_by_label("End", exact=True).fill("2026-10-25T05:00")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#started_at-error")).to_contain_text("happens twice")
    page.get_by_label("Which one?").select_option("second")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".flash-success")).to_contain_text("Time entry added")
    # 02:30 CET (the second) to 05:00 CET is two and a half hours.
    expect(page.locator("table")).to_contain_text("2:30")


def test_setup_and_new_users_preselect_the_browsers_time_zone(live_server, browser):
    from playwright.sync_api import expect

    from app.extensions import db
    from app.models import User

    base, app = live_server
    context = browser.new_context(locale="de-DE", timezone_id="Europe/Berlin")
    page = context.new_page()
    try:
        page.goto(base + "/setup")
        expect(page.get_by_label("Default time zone")).to_have_value("Europe/Berlin")
        page.get_by_label("Admin username").fill("chief")
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        page.get_by_label("Repeat password").fill(PASSWORD)
        page.get_by_role("button", name="Finish setup").click()
        expect(page.locator(".flash-success")).to_contain_text("Setup complete")
        page.goto(base + "/admin/users/new")
        expect(page.get_by_label("Time zone")).to_have_value("Europe/Berlin")
        with app.app_context():  # the admin moved: their saved zone is now another one
            db.session.query(User).one().timezone = "UTC"
            db.session.commit()
        page.goto(base + "/profile")
        expect(page.get_by_label("Time zone")).to_have_value("UTC")  # offered, not imposed
        page.get_by_role("button", name="Use this device's zone (Europe/Berlin)").click()
        page.get_by_role("button", name="Save profile").click()
        expect(page.locator(".flash-success")).to_contain_text("Profile saved")
        expect(page.locator("footer")).to_contain_text("Europe/Berlin")
    finally:
        context.close()


def test_a_rate_with_a_decimal_comma_is_accepted(live_server, page):
    from playwright.sync_api import expect

    base, _app = live_server
    _seed(_app)
    sign_in(page, base)
    page.goto(base + "/clients/new")
    page.get_by_label("Name").fill("Kunde GmbH")
    page.get_by_label("Default hourly rate").fill("120,50")
    page.get_by_role("button", name="Save client").click()
    expect(page.locator("table")).to_contain_text("120.50")


def test_a_reversed_report_range_keeps_the_dates_and_shows_the_error(live_server, page):
    from playwright.sync_api import expect

    base, app = live_server
    _seed(app)
    sign_in(page, base)
    page.goto(base + "/reports")
    page.get_by_label("From", exact=True).fill("2026-03-10")
    page.get_by_label("To", exact=True).fill("2026-03-01")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("#range-error")).to_have_text("end must not be before start.")
    expect(page.get_by_label("From", exact=True)).to_have_value("2026-03-10")
    expect(page.get_by_label("To", exact=True)).to_have_value("2026-03-01")
    expect(page.locator("#report-chart")).to_have_count(0)


def test_an_empty_report_shows_an_empty_state(live_server, page):
    from playwright.sync_api import expect

    base, app = live_server
    _seed(app)
    sign_in(page, base)
    page.goto(base + "/reports?start=2026-03-02&end=2026-03-08")
    expect(page.get_by_role("heading", name="No time in this period")).to_be_visible()
    expect(page.locator("canvas")).to_have_count(0)


def test_ordinary_mistakes_log_nothing_in_the_console(live_server, page):
    """A wrong password and a refused form answer 200 with the message: no console error."""
    from playwright.sync_api import expect

    base, app = live_server
    _seed(app)
    errors = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.goto(base + "/login")
    page.get_by_label("Username").fill("chief")
    page.get_by_label("Password").fill("wrong-password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator(".flash-error")).to_contain_text("Invalid username or password.")
    sign_in(page, base)
    page.goto(base + "/clients/new")
    page.get_by_role("button", name="Save client").click()
    expect(page.locator(".error")).to_contain_text("required")
    assert errors == []


def test_hours_format_is_a_profile_choice_used_on_every_page(live_server, page):
    from playwright.sync_api import expect

    from app.extensions import db
    from app.models import User
    from app.services import catalog, entries

    base, app = live_server
    admin_id = _seed(app)
    midnight = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    with app.app_context():
        project = catalog.create_project(name="Alpha")
        entries.create_entry(db.session.get(User, admin_id), project_id=project.id,
                             started_at=midnight, ended_at=midnight + timedelta(minutes=90))
    sign_in(page, base)
    expect(page.locator("#total-today")).to_have_text("1:30")
    page.goto(base + "/profile")
    page.get_by_label("Show hours as").select_option("decimal")
    page.get_by_role("button", name="Save profile").click()
    page.goto(base + "/")
    expect(page.locator("#total-today")).to_have_text("1.50")
    day = midnight.date().isoformat()
    page.goto(f"{base}/reports?start={day}&end={day}")
    expect(page.locator("#total-hours")).to_have_text("1.50")
    with page.expect_download() as info:
        page.locator("#export-csv").click()
    assert info.value.suggested_filename == f"time-entries_{day}_{day}.csv"
