"""Dark mode (the device's scheme, or a choice kept per user) and the timer's keyboard
shortcuts with their "?" overlay."""

from __future__ import annotations

import re

import pytest

from tests.e2e.accounts import PASSWORD, sign_in

pytestmark = pytest.mark.e2e

DARK_BG, LIGHT_BG = "rgb(11, 18, 32)", "rgb(245, 247, 251)"


def _seed(app):
    from app.services import catalog
    from app.services.setup import complete_setup

    with app.app_context():
        complete_setup(admin_username="chief", admin_password=PASSWORD, allow_analytics=False)
        catalog.create_project(name="Alpha")


@pytest.mark.parametrize("width", [1280, 390])
def test_dark_mode_follows_the_device_and_the_users_choice_is_kept(live_server, browser, width):
    from playwright.sync_api import expect

    from app.extensions import db
    from app.models import User

    base, app = live_server
    _seed(app)
    context = browser.new_context(viewport={"width": width, "height": 900}, color_scheme="dark")
    page = context.new_page()
    try:
        sign_in(page, base)
        expect(page.locator("body")).to_have_css("background-color", DARK_BG)  # auto: the device
        if width < 760:
            page.get_by_role("button", name="Menu").click()
        toggle = page.locator("#theme-toggle")
        expect(toggle).to_have_text("◐ Auto")
        toggle.click()  # auto → dark
        expect(page.locator("#theme-toggle")).to_have_text("◐ Dark")
        if width < 760:
            page.get_by_role("button", name="Menu").click()
        page.locator("#theme-toggle").click()  # dark → light: now against the device
        expect(page.locator("#theme-toggle")).to_have_text("◐ Light")
        expect(page.locator("body")).to_have_css("background-color", LIGHT_BG)
        with app.app_context():
            assert db.session.query(User).one().theme == "light"
        page.screenshot(path=_shot(f"light-over-dark-device-{width}"), full_page=True)
    finally:
        context.close()

    # Kept per user: another browser (a light device) opens in the chosen scheme.
    with app.app_context():
        user = db.session.query(User).one()
        user.theme = "dark"
        db.session.commit()
    context = browser.new_context(viewport={"width": width, "height": 900}, color_scheme="light")
    page = context.new_page()
    try:
        sign_in(page, base)
        expect(page.locator("body")).to_have_css("background-color", DARK_BG)
        page.screenshot(path=_shot(f"dark-{width}"), full_page=True)
    finally:
        context.close()


def test_timer_keyboard_shortcuts_and_the_help_overlay(live_server, page):
    from playwright.sync_api import expect

    from app.models import TimeEntry

    base, app = live_server
    _seed(app)
    sign_in(page, base)
    page.wait_for_load_state("load")  # app.js is deferred: its key handler comes after parsing
    page.keyboard.press("?")
    overlay = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(overlay).to_be_visible()
    expect(overlay).to_contain_text("Start the timer, or stop the running one")
    page.keyboard.press("Escape")
    expect(overlay).to_be_hidden()

    page.keyboard.press("n")
    expect(page.get_by_label("What are you working on?")).to_be_focused()
    page.keyboard.type("s is just a letter here")  # typing in a field triggers nothing
    expect(page.locator("#timer-clock")).to_have_count(0)
    page.locator("h1").click()
    page.keyboard.press("s")
    expect(page.locator("#timer-clock")).to_be_visible()
    page.keyboard.press("s")
    expect(page.locator(".flash-success")).to_contain_text("Timer stopped")
    from sqlalchemy import select

    from app.extensions import db

    with app.app_context():
        rows = db.session.scalars(select(TimeEntry)).all()
        assert len(rows) == 1 and rows[0].notes == "s is just a letter here" and rows[0].ended_at
    page.keyboard.press("t")
    expect(page).to_have_url(re.compile(r"/timesheet$"))
    page.go_back()
    page.keyboard.press("e")
    expect(page).to_have_url(re.compile(r"/entries/new$"))


def _shot(name: str) -> str:
    from tests.e2e.conftest import ARTIFACTS

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return str(ARTIFACTS / f"theme-{name}.png")
