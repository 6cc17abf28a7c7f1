"""Item 14: a throttled login answers 429 with Retry-After; the per-address limit does not
lock out a browser that signed in to that account before; with a Redis storage URI the
counts are shared between workers (two app instances here)."""

from __future__ import annotations

import re

import pytest
import redis

from app.services.setup import complete_setup
from app.services.users import create_user
from tests.conftest import ADMIN_PASSWORD, USER_PASSWORD, login, login_refused, require_or_skip

REDIS_DB = 13  # this suite's own Redis database number


def _setup(app):
    with app.app_context():
        complete_setup(admin_username="admin", admin_password=ADMIN_PASSWORD, allow_analytics=False)
        create_user(username="alice", password=USER_PASSWORD, role="user")
        create_user(username="bob", password=USER_PASSWORD, role="user")


def test_a_throttled_login_says_when_to_retry(app_factory):
    app = app_factory(LOGIN_RATE_LIMIT_PER_ACCOUNT="2 per 5 minutes")
    _setup(app)
    client = app.test_client()
    assert all(login_refused(login(client, "alice", "nope-nope")) for _ in range(2))
    response = login(client, "alice", USER_PASSWORD)
    assert response.status_code == 429
    assert 0 < int(response.headers["Retry-After"]) <= 300


def test_a_guesser_behind_the_office_address_does_not_lock_out_known_browsers(app_factory):
    app = app_factory(LOGIN_RATE_LIMIT_PER_ADDRESS="3 per 5 minutes")
    _setup(app)
    alice = app.test_client()
    assert login(alice, "alice", USER_PASSWORD).status_code == 302  # her browser, known now
    assert alice.post_form("/logout", {}).status_code == 302
    guesser = app.test_client()  # same address (127.0.0.1), no device cookie
    for n in range(3):
        assert login_refused(login(guesser, f"guess{n}", "nope-nope"))
    assert login(guesser, "guess-next", "nope-nope").status_code == 429
    assert login(guesser, "alice", USER_PASSWORD).status_code == 429  # not her browser
    assert login(alice, "alice", USER_PASSWORD).status_code == 302  # her browser still gets in
    # A known browser is known for its own account only, and a forged cookie is nothing.
    assert login(alice, "bob", USER_PASSWORD).status_code == 429
    forged = app.test_client()
    forged.set_cookie("tt_device", "W10.forged.signature", path="/login")
    assert login(forged, "alice", USER_PASSWORD).status_code == 429


def test_the_account_limit_still_applies_to_a_known_browser(app_factory):
    app = app_factory(LOGIN_RATE_LIMIT_PER_ACCOUNT="2 per 5 minutes")
    _setup(app)
    client = app.test_client()
    assert login(client, "alice", USER_PASSWORD).status_code == 302
    client.post_form("/logout", {})
    assert all(login_refused(login(client, "alice", "nope-nope")) for _ in range(2))
    assert login(client, "alice", USER_PASSWORD).status_code == 429


@pytest.fixture
def redis_uri():
    """Redis database 13, this suite's own: emptied before and after.

    (Not a key prefix: the limiter is one object per process and keeps the first
    prefix an app gave it.)
    """
    connection = redis.Redis(host="127.0.0.1", port=6379, db=REDIS_DB, socket_timeout=2)
    try:
        connection.ping()
    except redis.RedisError:
        require_or_skip(False, "Redis not reachable at 127.0.0.1:6379")
    connection.flushdb()
    yield f"redis://127.0.0.1:6379/{REDIS_DB}"
    connection.flushdb()
    connection.close()


_OTHER_WORKER = """
import json, sys
from app import create_app
from tests.conftest import FormClient, login
config = json.loads(sys.argv[1])
app = create_app(config)
app.test_client_class = FormClient
print(login(app.test_client(), "alice", "nope-nope").status_code)
"""


def test_workers_share_the_counts_through_redis(app_factory, redis_uri, tmp_path):
    """Two failures in this process, one in another process (a second worker): the
    account's limit of three is reached for both. With memory:// it would not be."""
    import json
    import subprocess
    import sys

    from tests.support.gunicorn import ROOT

    settings = dict(RATELIMIT_STORAGE_URI=redis_uri, LOGIN_RATE_LIMIT_PER_ACCOUNT="3 per 5 minutes")
    app = app_factory(**settings)
    _setup(app)
    client = app.test_client()
    assert login_refused(login(client, "alice", "nope-nope"))
    assert login_refused(login(client, "alice", "nope-nope"))
    config = {key: app.config[key] for key in (
        "SQLALCHEMY_DATABASE_URI", "DATA_DIR", "RATELIMIT_STORAGE_URI",
        "LOGIN_RATE_LIMIT_PER_ACCOUNT", "SECRET_KEY")}
    config.update(TESTING=True, LOG_DIR=str(tmp_path / "other-logs"), SERVER_NAME=None,
                  LOG_FLUSH_SECONDS=0)  # its log lines before its answer on stdout
    other = subprocess.run([sys.executable, "-c", _OTHER_WORKER, json.dumps(config)], cwd=ROOT,
                           capture_output=True, text=True, timeout=60)
    assert other.stdout.strip().splitlines()[-1] == "200", other.stderr[-2000:]  # refused, re-rendered
    assert login(client, "alice", USER_PASSWORD).status_code == 429  # 3 failures in total
    keys = list(redis.Redis(host="127.0.0.1", port=6379, db=REDIS_DB).scan_iter("*"))
    assert any(b"login-account" in key for key in keys), keys
    assert all(b"alice" not in key for key in keys)  # hashed, never the username


ROUNDS = 5
PARALLEL_GUESSES = 40
LIVE_REDIS_DB = 11  # the live-server test's own database (the worker processes share it)
WRONG = "Invalid username or password."
# A new connection per request: gunicorn drops an idle keep-alive connection after 2 s,
# and a POST sent on it then is reset, not answered.
CLOSE = {"Connection": "close"}


def _live_redis():
    connection = redis.Redis(host="127.0.0.1", port=6379, db=LIVE_REDIS_DB, socket_timeout=2)
    try:
        connection.ping()
    except redis.RedisError:
        require_or_skip(False, "Redis not reachable at 127.0.0.1:6379")
    return connection


# Which limit decides, and the usernames the 40 guesses try: one account (its limit of 5)
# or 40 accounts from one address (its limit of 20).
LIVE_LIMITS = {
    "account": ({"LOGIN_RATE_LIMIT_PER_ACCOUNT": "5 per 5 minutes",
                 "LOGIN_RATE_LIMIT_PER_ADDRESS": "1000 per 5 minutes"}, 5,
                lambda n: "admin"),
    "address": ({"LOGIN_RATE_LIMIT_PER_ACCOUNT": "1000 per 5 minutes",
                 "LOGIN_RATE_LIMIT_PER_ADDRESS": "20 per 5 minutes"}, 20,
                lambda n: f"guess-{n}"),
}


@pytest.mark.parametrize("scope", LIVE_LIMITS)
def test_parallel_wrong_passwords_never_get_past_the_limit(tmp_path, database_url, scope):
    """Issue 20 item 7: 40 wrong passwords at one instant, against gunicorn (2 workers ×
    threads) sharing Redis: at most the limit reach the password check, every round.
    (Testing first and counting after the answer let 10-12 of 40 through.)"""
    import requests

    from tests.support.gunicorn import gunicorn_env, run_setup, serving
    from tests.support.parallel import race

    settings, limit, username_for = LIVE_LIMITS[scope]
    connection = _live_redis()
    env = gunicorn_env(tmp_path, database_url, workers=2,
                       RATELIMIT_STORAGE_URI=f"redis://127.0.0.1:6379/{LIVE_REDIS_DB}", **settings)
    run_setup(env)
    counts = []
    try:
        with serving(env, tmp_path) as url:
            browsers = []
            for n in range(PARALLEL_GUESSES):
                browser = requests.Session()
                page = browser.get(url + "/login", timeout=30, headers=CLOSE).text
                token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
                browsers.append((browser, {"csrf_token": token, "username": username_for(n),
                                           "password": "not-the-password"}))
            for _ in range(ROUNDS):
                connection.flushdb()
                results = race([
                    (lambda b=b, form=form: b.post(url + "/login", data=form, timeout=60,
                                                   headers=CLOSE, allow_redirects=False))
                    for b, form in browsers])
                statuses = [getattr(r, "status_code", r) for r in results]
                assert not [r for r in results if isinstance(r, Exception)], statuses
                checked = [r for r in results if r.status_code == 200 and WRONG in r.text]
                throttled = [r for r in results if r.status_code == 429]
                counts.append(len(checked))
                assert len(checked) + len(throttled) == PARALLEL_GUESSES, statuses
                assert len(checked) <= limit, counts
                # Atomic counting refuses nothing the limit allows: exactly the limit get in.
                assert len(checked) == limit, counts
    finally:
        connection.flushdb()
        connection.close()
