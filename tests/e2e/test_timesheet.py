"""The week timesheet in Chromium, at desktop width and at 390 px."""

from __future__ import annotations

import re

import pytest

from tests.e2e.accounts import PASSWORD, sign_in

pytestmark = pytest.mark.e2e


def _seed(app):
    from app.services import catalog
    from app.services.setup import complete_setup

    with app.app_context():
        complete_setup(admin_username="chief", admin_password=PASSWORD, allow_analytics=False)
        alpha = catalog.create_project(name="Alpha")
        catalog.create_task(actor=None, project_id=alpha.id, name="Design")
        return alpha.id


def _durations(app):
    from sqlalchemy import select

    from app.extensions import db
    from app.models import TimeEntry

    with app.app_context():
        return [(e.started_at.date().isoformat(), e.duration_seconds, e.source)
                for e in db.session.scalars(select(TimeEntry).order_by(TimeEntry.started_at))]


def test_a_week_typed_with_the_keyboard_saves_ordinary_entries(live_server, sized_page):
    from playwright.sync_api import expect

    page = sized_page
    base, app = live_server
    _seed(app)
    sign_in(page, base)
    page.goto(base + "/timesheet?week=2026-W13")
    expect(page.get_by_role("heading", name=re.compile("Timesheet 2026-W13"))).to_be_visible()
    expect(page.locator("#timesheet-empty")).to_be_visible()
    page.get_by_label("Add a row").select_option(label="Alpha")
    page.get_by_role("button", name="Add row").click()

    monday = page.get_by_label("Alpha, Monday 23 March")
    monday.fill("1:30")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Alpha, Tuesday 24 March")).to_be_focused()
    page.keyboard.type("90m")
    page.keyboard.press("ArrowRight")  # the caret is at the end: next cell
    expect(page.get_by_label("Alpha, Wednesday 25 March")).to_be_focused()
    page.keyboard.type("1h30")
    page.keyboard.press("ArrowLeft")   # the caret is not at the start: stays
    expect(page.get_by_label("Alpha, Wednesday 25 March")).to_be_focused()
    expect(page.locator("#week-total")).to_have_text("4:30")  # totals follow the typing
    page.get_by_role("button", name="Save week").click()
    expect(page.locator(".flash-success")).to_have_text("Saved: 3 cells changed.")
    expect(page.locator("#week-total")).to_have_text("4:30")
    assert _durations(app) == [("2026-03-23", 5400, "manual"), ("2026-03-24", 5400, "manual"),
                               ("2026-03-25", 5400, "manual")]

    # Lower a cell, and the entries follow; an unreadable cell saves nothing.
    page.get_by_label("Alpha, Monday 23 March").fill("1")
    page.get_by_label("Alpha, Tuesday 24 March").fill("lots")
    page.get_by_role("button", name="Save week").click()
    expect(page.locator("[role=alert]").first).to_contain_text("1:30, 1.5, 90m or 1h30")
    expect(page.get_by_label("Alpha, Tuesday 24 March")).to_have_value("lots")  # kept as typed
    assert [d for _, d, _ in _durations(app)] == [5400, 5400, 5400]
    page.get_by_label("Alpha, Tuesday 24 March").fill("1.5")
    page.get_by_role("button", name="Save week").click()
    expect(page.locator(".flash-success")).to_have_text("Saved: 1 cell changed.")
    assert [d for _, d, _ in _durations(app)] == [3600, 5400, 5400]

    # Next week: empty; copying last week's rows brings the row, not the time.
    page.get_by_role("link", name="Next week →").click()
    expect(page.get_by_role("heading", name=re.compile("2026-W14"))).to_be_visible()
    page.get_by_role("link", name="Copy last week's rows").click()
    expect(page.get_by_label("Alpha, Monday 30 March")).to_have_value("")
    expect(page.locator("#week-total")).to_have_text("0:00")
    page.get_by_role("link", name="← Previous week").click()
    expect(page.get_by_label("Alpha, Monday 23 March")).to_have_value("1:00")


def test_only_the_typed_cell_is_saved_whatever_seconds_the_others_hold(live_server, sized_page):
    """The issue's data loss, in the browser: a 2-second timer entry shows 0:00 and a
    1:00:37 one 1:00; typing another cell must leave both as they are."""
    from datetime import datetime, timedelta, timezone

    from playwright.sync_api import expect

    from sqlalchemy import select

    from app.extensions import db
    from app.models import TimeEntry, User

    page = sized_page
    base, app = live_server
    alpha = _seed(app)
    with app.app_context():
        chief = db.session.scalar(select(User.id).where(User.username == "chief"))
        for start, seconds in ((datetime(2026, 3, 23, 9, 0, 5), 2),
                               (datetime(2026, 3, 24, 9, 0, 0), 3637)):
            start = start.replace(tzinfo=timezone.utc)
            db.session.add(TimeEntry(user_id=chief, project_id=alpha, started_at=start,
                                     ended_at=start + timedelta(seconds=seconds),
                                     duration_seconds=seconds, source="timer", notes="kept"))
        db.session.commit()
    sign_in(page, base)
    page.goto(base + "/timesheet?week=2026-W13")
    expect(page.get_by_label("Alpha, Monday 23 March")).to_have_value("0:00")
    expect(page.get_by_label("Alpha, Tuesday 24 March")).to_have_value("1:00")
    page.get_by_label("Alpha, Thursday 26 March").fill("0:30")
    page.get_by_role("button", name="Save week").click()
    expect(page.locator(".flash-success")).to_have_text("Saved: 1 cell changed.")
    assert _durations(app) == [("2026-03-23", 2, "timer"), ("2026-03-24", 3637, "timer"),
                               ("2026-03-26", 1800, "manual")]
    page.get_by_role("button", name="Save week").click()
    expect(page.locator(".flash-info")).to_have_text("Nothing to save: no cell changed.")
    assert [d for _, d, _ in _durations(app)] == [2, 3637, 1800]
