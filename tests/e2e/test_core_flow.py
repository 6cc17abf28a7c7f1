"""A person's first day: setup, sign in, clients/projects/tasks, timer, manual entry, totals."""

from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest

from tests.e2e.accounts import PASSWORD, sign_in

pytestmark = pytest.mark.e2e


def test_first_day_in_the_browser(live_server, page):
    from playwright.sync_api import expect

    base, _app = live_server

    # 1. Every page leads to the setup wizard; analytics is unticked by default.
    page.goto(base + "/")
    expect(page).to_have_url(re.compile(r"/setup$"))
    expect(page.get_by_label("Share detailed, pseudonymous usage analytics")).not_to_be_checked()
    page.shot("01-setup")
    page.get_by_label("Company or team name").fill("Browser Studio")
    page.get_by_label("Admin username").fill("chief")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Repeat password").fill(PASSWORD)
    page.get_by_role("button", name="Finish setup").click()
    expect(page.locator(".flash-success")).to_contain_text("Setup complete")

    # 2. Sign out and back in.
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    page.get_by_label("Username").fill("chief")
    page.get_by_label("Password").fill("wrong-password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator(".flash-error")).to_contain_text("Invalid username or password.")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name=re.compile("Hello, chief"))).to_be_visible()

    # 3. A client, a project for it, and a task.
    page.get_by_role("link", name="Clients").click()
    page.get_by_role("link", name="+ New client").click()
    page.get_by_label("Name").fill("Acme Corp")
    page.get_by_label("Default hourly rate").fill("80")
    page.get_by_role("button", name="Save client").click()
    expect(page.locator("table")).to_contain_text("Acme Corp")
    page.get_by_role("link", name="Projects").first.click()
    page.get_by_role("link", name="+ New project").click()
    page.get_by_label("Name").fill("Website relaunch")
    page.get_by_label("Client").select_option(label="Acme Corp")
    page.get_by_role("button", name="Save project").click()
    expect(page.get_by_role("heading", name="Website relaunch")).to_be_visible()
    page.get_by_label("Task name").fill("Wireframes")
    page.get_by_role("button", name="Add task").click()
    expect(page.locator(".list")).to_contain_text("Wireframes")
    page.shot("02-project")

    # 4. Start and stop the timer from the dashboard.
    page.get_by_role("link", name="Dashboard").click()
    page.get_by_label("Project").select_option(label="Website relaunch · Acme Corp")
    page.get_by_label("Task").select_option(label="Wireframes")
    page.get_by_label("What are you working on?").fill("first sketches")
    page.get_by_role("button", name="Start timer").click()
    clock = page.locator("#timer-clock")
    expect(clock).to_be_visible()
    first = clock.inner_text()
    expect(clock).not_to_have_text(first, timeout=3_000)  # the live clock ticks
    page.shot("03-timer-running")
    page.get_by_role("button", name="Stop").click()
    expect(page.locator(".flash-success")).to_contain_text("Timer stopped")

    # 5. A manual entry of 1 h 30 today, then the totals.
    page.get_by_role("link", name="+ Add time manually").click()
    today = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    page.get_by_label("Project").select_option(label="Website relaunch · Acme Corp")
    page.get_by_label("Start").fill(f"{today}T00:00")
    page.get_by_label("End", exact=True).fill(f"{today}T01:30")
    page.get_by_label("Notes").fill("kick-off call")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("table")).to_contain_text("kick-off call")

    page.get_by_role("link", name="Dashboard").click()
    expect(page.locator("#total-today")).to_have_text("1:30")
    expect(page.locator("#total-week")).to_have_text("1:30")
    expect(page.locator("table")).to_contain_text("first sketches")
    page.shot("04-dashboard")


def test_a_user_gets_403_on_admin_pages(live_server, page):
    from playwright.sync_api import expect

    base, app = live_server
    from app.services.setup import complete_setup
    from app.services.users import create_user

    with app.app_context():
        complete_setup(admin_username="chief", admin_password=PASSWORD, allow_analytics=False)
        create_user(username="worker", password=PASSWORD, role="user")
    sign_in(page, base, "worker")
    expect(page.get_by_role("link", name="Admin")).to_have_count(0)
    response = page.goto(base + "/admin/users")
    assert response.status == 403
    expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()
