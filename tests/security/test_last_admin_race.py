"""Issue 20 item 3: admins removing each other's rights at the same instant never leave
zero active admins (real parallel requests to gunicorn, SQLite and PostgreSQL), and
``flask users promote`` brings an admin back when none is left."""

from __future__ import annotations

import html

import pytest
from sqlalchemy import create_engine, text

from app.extensions import db
from app.models import User
from app.services.users import LAST_ADMIN, NO_LONGER_ADMIN
from tests.support.parallel import ADMIN_PASSWORD, WebSession, live_server, race

ROUNDS = 5
PASSWORD = "race-admin-password"
ADMINS = ("admin", "bea", "cem")
DEMOTE = {"user-role": "user", "user-active": "y"}
DEACTIVATE = {"user-role": "admin"}  # the box unticked

# Who acts on whom, and with what: each scenario is three requests released at once.
SCENARIOS = {
    # Each demotes the next: the first to commit takes an actor's rights away.
    "demote-in-a-circle": ([("admin", "bea"), ("bea", "cem"), ("cem", "admin")], DEMOTE),
    # Each demotes themselves: only the count of admins left can refuse the last.
    "each-demotes-themselves": ([("admin", "admin"), ("bea", "bea"), ("cem", "cem")], DEMOTE),
    "deactivate-in-a-circle": ([("admin", "bea"), ("bea", "cem"), ("cem", "admin")], DEACTIVATE),
}


def _active_admins(engine) -> list[str]:
    with engine.connect() as conn:
        return sorted(conn.execute(text(
            "SELECT username FROM users WHERE role = 'admin' AND active")).scalars())


def _restore(engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("UPDATE users SET role = 'admin', active = :yes WHERE username IN "
                          "('admin', 'bea', 'cem')"), {"yes": True})


SIGNED_OUT = "signed out"  # a deactivated admin's session ended before their request
TURNED_AWAY = "turned away"  # a demoted admin's request reached the admin pages after it


def _refusal(response) -> str | None:
    """The rule's message when the form was re-rendered with it, None for a success."""
    if response.status_code == 302:
        location = response.headers["Location"]
        if "/login" in location:
            return SIGNED_OUT
        assert location.endswith("/admin/users"), location
        return None
    if response.status_code == 403:
        return TURNED_AWAY
    assert response.status_code == 200, response.status_code  # the form, with its error
    page = html.unescape(response.text)
    found = [message for message in (LAST_ADMIN, NO_LONGER_ADMIN) if message in page]
    assert len(found) == 1, page[:2000]
    return found[0]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_simultaneous_demotions_always_leave_an_active_admin(tmp_path, database_url, scenario):
    moves, form = SCENARIOS[scenario]
    engine = create_engine(database_url)
    try:
        with live_server(tmp_path, database_url) as server:
            first = WebSession(server.url, "admin", ADMIN_PASSWORD)
            for name in ADMINS[1:]:
                created = first.post_form("/admin/users/new", {
                    "username": name, "password": PASSWORD, "role": "admin", "timezone": "UTC"})
                assert created.status_code == 302
            passwords = {"admin": ADMIN_PASSWORD, "bea": PASSWORD, "cem": PASSWORD}
            with engine.connect() as conn:
                ids = dict(conn.execute(text("SELECT username, id FROM users")).all())
            outcomes = []
            for _ in range(ROUNDS):
                _restore(engine)
                sessions = {name: WebSession(server.url, name, passwords[name]) for name in ADMINS}
                tokens = {name: sessions[name].csrf_token("/") for name in ADMINS}
                results = race([
                    (lambda actor=actor, target=target: sessions[actor].post_form(
                        f"/admin/users/{ids[target]}", form, token=tokens[actor]))
                    for actor, target in moves])
                assert not [r for r in results if isinstance(r, Exception)], results
                refusals = [_refusal(r) for r in results]
                left = _active_admins(engine)
                outcomes.append((left, refusals))
                # The rule, every round: someone is still an active admin ...
                assert len(left) >= 1, outcomes
                # ... and what the database did is what the answers said: one refusal per
                # admin that is still there beyond the first, none for a removal that happened.
                assert len([r for r in refusals if r is None]) == 3 - len(left), outcomes
    finally:
        engine.dispose()


def test_flask_users_promote_restores_an_admin_when_none_is_left(ready_app, make_user):
    make_user("dora")
    with ready_app.app_context():
        db.session.execute(db.update(User).values(role="user"))
        db.session.execute(db.update(User).where(User.username == "dora").values(active=False))
        db.session.commit()
    runner = ready_app.test_cli_runner()
    listing = runner.invoke(args=["users", "list"])
    assert listing.exit_code == 0
    assert "admin\tuser\tactive" in listing.output and "dora\tuser\tdeactivated" in listing.output
    assert "No active admin" in listing.output
    promoted = runner.invoke(args=["users", "promote", "Dora"])
    assert promoted.exit_code == 0, promoted.output
    assert "dora is now an active admin." in promoted.output
    with ready_app.app_context():
        dora = db.session.scalar(db.select(User).where(User.username == "dora"))
        assert (dora.role, dora.active) == ("admin", True)
    assert "No active admin" not in runner.invoke(args=["users", "list"]).output


def test_flask_users_promote_refuses_an_unknown_user(ready_app):
    result = ready_app.test_cli_runner().invoke(args=["users", "promote", "nobody"])
    assert result.exit_code == 1
    assert "Error: No user named 'nobody'." in result.output
    with ready_app.app_context():
        assert db.session.scalar(db.select(db.func.count(User.id)).where(
            User.role == "admin")) == 1
