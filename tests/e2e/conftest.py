"""A real server and a real headless Chromium for browser tests."""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

import pytest

from app import create_app
from app.extensions import db
from tests.conftest import require_or_skip
from tests.support.threaded_server import threaded_server

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


@pytest.fixture
def serve_app(sqlite_template, tmp_path):
    """A factory: ``serve_app(**config)`` serves the app on a free 127.0.0.1 port, in a
    thread, on its own copy of the migrated SQLite template; returns (base URL, app)."""
    from app import telemetry

    apps = []
    with contextlib.ExitStack() as servers:
        def serve(**config):
            db_path = tmp_path / f"e2e{len(apps)}.db"
            shutil.copy(sqlite_template, db_path)
            app = create_app({
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{db_path}",
                "DATA_DIR": str(tmp_path / "data"),
                "LOG_DIR": str(tmp_path / "logs"),
                **config,
            })
            apps.append(app)
            return servers.enter_context(threaded_server(app)), app

        yield serve
    for app in apps:
        telemetry.client(app).shutdown()
        with app.app_context():
            db.engine.dispose()


@pytest.fixture
def live_server(serve_app):
    """The app with its default configuration (see ``serve_app``)."""
    return serve_app()


@pytest.fixture
def browser():
    require_or_skip(Path(CHROMIUM).exists(), f"Chromium not installed at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


# The two widths the user flows run at (issue 14: phones are users too).
VIEWPORTS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}


@pytest.fixture
def page(browser, request):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB",
                                  timezone_id="UTC", accept_downloads=True)
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.shot = lambda name: _screenshot(page, request.node.name, name)
    yield page
    context.close()


def _screenshot(page, test_name: str, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{test_name}-{name}.png"), full_page=True)


@pytest.fixture(params=sorted(VIEWPORTS))
def sized_page(request, page):
    """The page at each of VIEWPORTS: a test asking for it runs at desktop width and at 390 px."""
    page.set_viewport_size(VIEWPORTS[request.param])
    return page
