"""SECRET_KEY unset: one key per install, in the database, shared by every replica."""

from __future__ import annotations

import logging
import re
import threading

from sqlalchemy import delete, func, select

from app import create_app
from app.extensions import db
from app.models import InstanceSecret
from app.services import secret_key
from tests.conftest import ADMIN_PASSWORD, login

HEX_KEY = re.compile(r"^[0-9a-f]{64}$")


def _stored_keys(app) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(select(InstanceSecret.value)))


def _clear(app) -> None:
    with app.app_context():
        db.session.execute(delete(InstanceSecret))
        db.session.commit()


def _logged_anywhere(caplog, key: str) -> bool:
    return any(key in record.getMessage() or key in repr(record.__dict__) for record in caplog.records)


def test_apps_without_a_key_share_the_databases_key_and_keep_none_on_disk(app_factory, tmp_path,
                                                                          caplog):
    caplog.set_level(logging.DEBUG)
    first = app_factory(SECRET_KEY=None, DATA_DIR=str(tmp_path / "replica-a"))
    second = app_factory(SECRET_KEY=None, DATA_DIR=str(tmp_path / "replica-b"))
    key = first.config["SECRET_KEY"]
    assert HEX_KEY.match(key)
    assert second.config["SECRET_KEY"] == key
    assert _stored_keys(first) == [key]
    assert not (tmp_path / "replica-a" / "secret_key").exists()
    assert not (tmp_path / "replica-b" / "secret_key").exists()
    assert not _logged_anywhere(caplog, key)


def test_a_session_from_one_replica_is_valid_on_another(app_factory, tmp_path):
    from app.services.setup import complete_setup

    replica_a = app_factory(SECRET_KEY=None, DATA_DIR=str(tmp_path / "a"))
    replica_b = app_factory(SECRET_KEY=None, DATA_DIR=str(tmp_path / "b"))
    with replica_a.app_context():
        complete_setup(admin_username="admin", admin_password=ADMIN_PASSWORD, allow_analytics=False)
    browser_a = replica_a.test_client()
    assert login(browser_a, "admin", ADMIN_PASSWORD).status_code == 302
    # A form rendered by A, posted to B: the session and its CSRF token both hold. The
    # cookie is taken after the form, which may have put a fresh CSRF token in the session.
    token = browser_a.csrf_token("/clients/new")
    cookie = browser_a.get_cookie("session")
    assert cookie is not None
    browser_b = replica_b.test_client()
    browser_b.set_cookie("session", cookie.value)
    response = browser_b.post("/clients/new", data={"name": "Made on B", "csrf_token": token})
    assert response.status_code == 302 and "/login" not in response.headers["Location"]
    assert "Made on B" in browser_b.get("/clients").get_data(as_text=True)


def test_an_existing_key_file_is_adopted_so_sessions_survive_the_upgrade(app_factory, tmp_path,
                                                                         caplog):
    from app.services.setup import complete_setup

    caplog.set_level(logging.DEBUG)
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    legacy = "a" * 64
    (data_dir / "secret_key").write_text(legacy + "\n")
    # The previous version: it used the file's key (passed explicitly here).
    old = app_factory(SECRET_KEY=legacy)
    _clear(old)
    with old.app_context():
        complete_setup(admin_username="admin", admin_password=ADMIN_PASSWORD, allow_analytics=False)
    browser = old.test_client()
    assert login(browser, "admin", ADMIN_PASSWORD).status_code == 302
    cookie = browser.get_cookie("session").value

    upgraded = app_factory(SECRET_KEY=None)
    assert upgraded.config["SECRET_KEY"] == legacy
    assert _stored_keys(upgraded) == [legacy]
    after = upgraded.test_client()
    after.set_cookie("session", cookie)
    response = after.get("/clients")
    assert response.status_code == 200, response.headers.get("Location")
    assert not _logged_anywhere(caplog, legacy)


def test_a_key_file_that_disagrees_with_the_database_is_ignored(app_factory, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    shared = app_factory(SECRET_KEY=None, DATA_DIR=str(tmp_path / "first")).config["SECRET_KEY"]
    other_dir = tmp_path / "replica-with-old-file"
    other_dir.mkdir()
    stale = "b" * 64
    (other_dir / "secret_key").write_text(stale)
    app = app_factory(SECRET_KEY=None, DATA_DIR=str(other_dir))
    assert app.config["SECRET_KEY"] == shared != stale
    assert _stored_keys(app) == [shared]
    assert [r for r in caplog.records if r.getMessage() == "secret_key.legacy_file_ignored"]
    assert not _logged_anywhere(caplog, stale) and not _logged_anywhere(caplog, shared)


def test_the_environment_key_wins_and_the_database_is_left_alone(app_factory):
    app = app_factory(SECRET_KEY="set-by-the-operator")
    _clear(app)
    again = app_factory(SECRET_KEY="set-by-the-operator")
    assert again.config["SECRET_KEY"] == "set-by-the-operator"
    assert _stored_keys(again) == []


def test_processes_starting_together_agree_on_one_key(app_factory, tmp_path):
    app = app_factory(SECRET_KEY="only-for-the-engine")
    _clear(app)
    with app.app_context():
        engine = db.engine
    n = 8
    barrier = threading.Barrier(n)
    keys, errors = [], []

    def start(index: int) -> None:
        folder = tmp_path / f"process-{index}"
        folder.mkdir()
        barrier.wait()
        try:
            keys.append(secret_key.load_or_create(engine, folder))
        except Exception as exc:  # the outcome is what we assert on
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert len(keys) == n and len(set(keys)) == 1
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(InstanceSecret)) == 1


def test_an_app_built_before_the_migration_fetches_the_key_when_a_session_needs_it(tmp_path):
    """``flask db upgrade`` builds the app on a database without tables: no key then, and
    none made up; the first request after the migration takes the database's key."""
    from flask_migrate import upgrade

    empty = tmp_path / "new.db"
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{empty}", "TESTING": True,
                      "DATA_DIR": str(tmp_path / "data"), "LOG_DIR": str(tmp_path / "logs"),
                      "RATELIMIT_STORAGE_URI": "memory://", "SECRET_KEY": None})
    try:
        assert not app.config.get("SECRET_KEY")
        with app.app_context():
            upgrade()
        response = app.test_client().get("/setup")
        assert response.status_code == 200
        assert 'name="csrf_token"' in response.get_data(as_text=True)
        key = app.config["SECRET_KEY"]
        assert HEX_KEY.match(key) and _stored_keys(app) == [key]
    finally:
        with app.app_context():
            db.engine.dispose()
