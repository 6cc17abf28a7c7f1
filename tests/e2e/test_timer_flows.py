"""Switching in one click, the timer form's defaults, editing the running timer, and a
manual entry by duration: at desktop width and at 390 px."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest

from tests.e2e.accounts import PASSWORD, sign_in

pytestmark = pytest.mark.e2e


def _seed(app):
    from app.services import catalog
    from app.services.setup import complete_setup

    with app.app_context():
        complete_setup(admin_username="chief", admin_password=PASSWORD, allow_analytics=False)
        alpha = catalog.create_project(name="Alpha")
        beta = catalog.create_project(name="Beta")
        review = catalog.create_task(actor=None, project_id=beta.id, name="Review")
        return alpha.id, beta.id, review.id


def _rows(app):
    from sqlalchemy import select

    from app.extensions import db
    from app.models import TimeEntry

    with app.app_context():
        return [(e.project_id, e.task_id, e.notes, e.ended_at is None, e.started_at, e.ended_at)
                for e in db.session.scalars(select(TimeEntry).order_by(TimeEntry.id))]


def test_switching_in_one_click_and_the_form_remembers_the_last_task(live_server, sized_page):
    from playwright.sync_api import expect

    page = sized_page
    base, app = live_server
    alpha, beta, review = _seed(app)
    sign_in(page, base)
    page.get_by_label("Project").select_option(label="Alpha")
    page.get_by_label("What are you working on?").fill("first")
    page.get_by_role("button", name="Start timer").click()
    expect(page.locator("#timer-clock")).to_be_visible()

    # The running card offers "Switch", not a refusal.
    form = page.locator("#timer-start-form")
    form.get_by_label("Project").select_option(label="Beta")
    form.get_by_label("Task").select_option(label="Review")
    form.get_by_label("What are you working on?").fill("second")
    form.get_by_role("button", name="Switch").click()
    expect(page.locator(".flash-success")).to_have_text("Switched timers.")
    expect(page.locator(".timer-project")).to_contain_text("Beta · Review")
    rows = _rows(app)
    assert [(r[0], r[1], r[2], r[3]) for r in rows] == [
        (alpha, None, "first", False), (beta, review, "second", True)]
    assert rows[0][5] == rows[1][4]  # the first ends when the second starts

    page.get_by_role("button", name="Stop").click()
    expect(page.locator(".flash-success")).to_contain_text("Timer stopped")
    # Next time, the form starts on what was used last.
    expect(page.get_by_label("Project")).to_have_value(str(beta))
    expect(page.get_by_label("Task")).to_have_value(str(review))


def test_the_running_timer_is_edited_on_the_dashboard(live_server, sized_page):
    from playwright.sync_api import expect

    page = sized_page
    base, app = live_server
    alpha, beta, _review = _seed(app)
    sign_in(page, base)
    page.get_by_label("Project").select_option(label="Alpha")
    page.get_by_role("button", name="Start timer").click()
    page.get_by_text("Edit the running timer").click()
    edit = page.locator(".timer-edit-form")
    earlier = (datetime.now(timezone.utc) - timedelta(minutes=50)).replace(second=0)
    edit.get_by_label("Project").select_option(label="Beta")
    edit.get_by_label("Started at").fill(earlier.strftime("%Y-%m-%dT%H:%M"))
    edit.get_by_label("Notes").fill("forgot to start it")
    edit.get_by_role("button", name="Save").click()
    expect(page.locator(".flash-success")).to_have_text("Running timer updated.")
    expect(page.locator(".timer-project")).to_contain_text("Beta")
    expect(page.locator("#running-note")).to_have_text("forgot to start it")
    expect(page.locator("#timer-clock")).to_contain_text(re.compile(r"^0:5\d:"))
    rows = _rows(app)
    assert len(rows) == 1 and rows[0][0] == beta and rows[0][3] is True
    assert rows[0][4] == earlier.replace(microsecond=0)

    # A start in the future is refused in place, with the form open and nothing changed.
    if not edit.is_visible():
        page.get_by_text("Edit the running timer").click()
    later = datetime.now(timezone.utc) + timedelta(hours=2)
    edit.get_by_label("Started at").fill(later.strftime("%Y-%m-%dT%H:%M"))
    edit.get_by_role("button", name="Save").click()
    expect(page.locator("#running-started_at-error")).to_contain_text("future")
    assert _rows(app)[0][4] == earlier.replace(microsecond=0)


def test_a_manual_entry_by_duration(live_server, sized_page):
    from playwright.sync_api import expect

    page = sized_page
    base, app = live_server
    _seed(app)
    sign_in(page, base)
    page.goto(base + "/entries/new")
    today = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    expect(page.get_by_label("Start")).to_have_value(re.compile("^" + today + "T"))
    page.get_by_label("Project").select_option(label="Alpha")
    page.get_by_label("Start").fill(f"{today}T00:15")
    page.get_by_label("or Duration").fill("1h30")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".flash-success")).to_contain_text("Time entry added")
    expect(page.locator("table")).to_contain_text("1:30")
    start, end = _rows(app)[0][4:6]
    assert end - start == timedelta(minutes=90)

    page.goto(base + "/entries/new")
    page.get_by_label("Project").select_option(label="Alpha")
    page.get_by_label("or Duration").fill("an hour")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#duration-error")).to_contain_text("1:30, 1.5, 90m or 1h30")
    assert len(_rows(app)) == 1
