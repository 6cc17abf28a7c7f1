"""The browser tests' accounts: the one password they are created with, and signing in."""

from __future__ import annotations

import re

PASSWORD = "browser-pass-123"


def sign_in(page, base: str, username: str = "chief", password: str = PASSWORD) -> None:
    """Sign in through the login form, as a person does, and wait for the dashboard."""
    from playwright.sync_api import expect

    page.goto(base + "/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name=re.compile("Hello"))).to_be_visible()
