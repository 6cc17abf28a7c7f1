"""Real parallel requests against a real server: the proof a rule holds under concurrency.

The Flask test client runs one request at a time, so a race never shows through it.
``live_server`` serves the test's own database (SQLite copy or the session's
PostgreSQL database, as ``database_url`` gives) with real gunicorn (2 workers ×
threads, ``gunicorn.conf.py``); ``race`` releases N callables at one instant with a
barrier and returns what each got; ``WebSession`` signs in through the login form and
posts forms with their CSRF token, as a browser does.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import contextlib

import requests

from .gunicorn import gunicorn_env, run_setup, serving

ADMIN_PASSWORD = "gunicorn-admin-password"  # what run_setup gives the admin
_CSRF = re.compile(r'name="[\w-]*csrf_token"[^>]*value="([^"]+)"')


@dataclass
class LiveServer:
    url: str
    env: dict[str, str]
    folder: Path


@contextlib.contextmanager
def live_server(folder: Path, database_url: str, *, workers: int = 2,
                **settings: str) -> Iterator[LiveServer]:
    """gunicorn on ``database_url`` after ``flask setup`` (admin ``admin``, password
    :data:`ADMIN_PASSWORD`); ``settings`` go to its environment."""
    env = gunicorn_env(folder, database_url, workers=workers,
                       RATELIMIT_STORAGE_URI="memory://", **settings)
    run_setup(env)
    with serving(env, folder) as url:
        yield LiveServer(url=url, env=env, folder=folder)


def race(actions: list[Callable[[], object]], timeout: float = 60) -> list[object]:
    """Run each action in its own thread, all released at once; their results in order
    (an exception raised is the result)."""
    barrier = threading.Barrier(len(actions))
    results: list[object] = [None] * len(actions)

    def run(index: int, action: Callable[[], object]) -> None:
        barrier.wait()
        try:
            results[index] = action()
        except Exception as exc:  # the outcome is what the test asserts on
            results[index] = exc

    threads = [threading.Thread(target=run, args=(i, a)) for i, a in enumerate(actions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    assert not any(thread.is_alive() for thread in threads), "a racing request hung"
    return results


class WebSession:
    """A signed-in browser session on a live server (cookies, CSRF from the page)."""

    def __init__(self, base_url: str, username: str, password: str):
        self.base_url = base_url
        self.http = requests.Session()
        response = self.post_form("/login", {"username": username, "password": password},
                                  token_page="/login", allow_redirects=False)
        assert response.status_code == 302, f"sign-in as {username} failed: {response.status_code}"

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.http.get(self.base_url + path, timeout=30, **kwargs)

    def csrf_token(self, page: str = "/") -> str:
        match = _CSRF.search(self.get(page).text)
        assert match, f"no CSRF token on {page}"
        return match.group(1)

    def post_form(self, path: str, data: dict, *, token_page: str | None = None,
                  token: str | None = None, **kwargs) -> requests.Response:
        """POST ``data`` as a form; the CSRF token is ``token`` or read from ``token_page``
        (default: the page posted to). Read the token before a race, post during it."""
        form = dict(data)
        form["csrf_token"] = token or self.csrf_token(token_page or path)
        kwargs.setdefault("allow_redirects", False)
        return self.http.post(self.base_url + path, data=form, timeout=30, **kwargs)
