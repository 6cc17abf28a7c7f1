"""Every catalogue analytics action, and how to perform it through the web UI, the API and the CLI.

``ACTIONS`` is the table ``tests/telemetry/test_event_coverage.py`` runs: one row per
action, each with the catalogue event it must produce, that event's properties, and one
:class:`Way` per place that offers the action (``None``: that place does not have it; an
endpoint is never invented here). Web ways drive a signed-in test client that posts the
real forms with their CSRF token; API ways send JSON with a personal token; CLI ways run
the real ``flask`` command in this process. Every way of one action performs the same
change, so its twins must report the same properties.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from flask import Flask
from sqlalchemy import update

from app.extensions import db
from tests.conftest import ADMIN_PASSWORD, USER_PASSWORD, login
from tests.support.otlp import OtlpReceiver

PATHS = ("web", "api", "cli")
ADMIN, ALICE = "admin", "alice"
PASSWORDS = {ADMIN: ADMIN_PASSWORD, ALICE: USER_PASSWORD}

# The seeded week: one finished entry of alice's on Monday 5 January 2026, 09:00-10:00 UTC.
WEEK_START, WEEK_END = "2026-01-05", "2026-01-11"
TIMER_BACKDATE_SECONDS = 5400


@dataclass
class World:
    """One app with analytics opted in, sending to a real OTLP receiver, and its seeded rows.

    ``ids`` holds the seeded users' and rows' ids (``admin``, ``alice``, ``client``,
    ``project``, ``task``, ``entry``); ``web()`` and ``api()`` hand out one signed-in
    client and one token per user.
    """

    app: Flask
    receiver: OtlpReceiver
    ids: dict[str, int] = field(default_factory=dict)
    # The User-Agent every client made here sends (None: the test client's own).
    user_agent: str | None = None
    # The OpenID provider the app trusts, for the rows that sign in through it.
    oidc: Any = None
    _browsers: dict[str, Any] = field(default_factory=dict)
    _tokens: dict[str, str] = field(default_factory=dict)

    def new_client(self):
        """A fresh test client (no cookies), sending ``user_agent`` when one is set."""
        browser = self.app.test_client()
        if self.user_agent is not None:
            browser.environ_base["HTTP_USER_AGENT"] = self.user_agent
        return browser

    def web(self, who: str):
        """A test client signed in as ``who`` through the real login form."""
        if who not in self._browsers:
            browser = self.new_client()
            response = login(browser, who, PASSWORDS[who])
            assert response.status_code == 302, response.get_data(as_text=True)
            self._browsers[who] = browser
        return self._browsers[who]

    def token(self, who: str) -> str:
        """A personal API token of ``who`` (made through the service, before the action)."""
        if who not in self._tokens:
            from app.services import api_tokens
            from app.services.users import find_by_username

            with self.app.app_context():
                self._tokens[who] = api_tokens.create_token(find_by_username(who), "tests").secret
        return self._tokens[who]

    def api(self, who: str, method: str, url: str, **kwargs):
        """One ``/api/v1`` request authenticated by ``who``'s token (no cookie, no CSRF)."""
        headers = {"Authorization": f"Bearer {self.token(who)}"}
        return self.new_client().open(url, method=method, headers=headers, **kwargs)

    def cli(self, *args: str, input: str | None = None):
        """Run ``flask --app app <args>`` against this app, in this process."""
        result = self.app.test_cli_runner().invoke(args=list(args), input=input)
        assert result.exit_code == 0, (result.output, result.exception)
        return result

    def set_consent(self, enabled: bool) -> None:
        from app.telemetry import client

        with self.app.app_context():
            client(self.app).set_consent(enabled, changed_by="test")

    def user_id_attribute(self, who: str | None):
        """What a record must carry as ``user_id`` for ``who`` (None: no attribute at all).

        The catalogue says what the attribute is: the internal id (kind ``id``), or a
        pseudonym, HMAC-SHA256 of the id under the install's key kept in the settings row,
        cut to 16 hex characters (kind ``pseudonym``). Computed here from the row, not by
        the client's own function.
        """
        import hashlib
        import hmac

        from sqlalchemy import text

        from app.telemetry.catalogue import CONTEXT_PROPERTIES

        if who is None:
            return None
        internal = self.ids[who]
        kind = CONTEXT_PROPERTIES["user_id"].kind
        if kind == "id":
            return internal
        assert kind == "pseudonym", f"user_id of an unknown kind {kind!r}: teach the test"
        with self.app.app_context():
            key = db.session.scalar(text("SELECT telemetry_pseudonym_key FROM settings WHERE id = 1"))
        assert key, "the install has no pseudonym key, yet a record carries a user_id"
        return hmac.new(key.encode(), str(internal).encode(), hashlib.sha256).hexdigest()[:16]

    def stored(self, model, ident: int, attribute: str):
        with self.app.app_context():
            return getattr(db.session.get(model, ident), attribute)


@dataclass(frozen=True)
class Way:
    """One way to perform an action. ``actor``: whose id the event must carry as
    ``user_id`` (None: no user acts, so no ``user_id``). ``signed_in``: the web client or
    API token of ``actor`` is made before the action (a login is not part of it)."""

    perform: Callable[[World], None]
    actor: str | None
    signed_in: bool = True


@dataclass(frozen=True)
class Action:
    """One catalogue action: its event, its properties and the ways to perform it.

    ``properties`` are the event's own properties (source and the context properties
    excepted), a dict or a function of the world after the action.
    """

    id: str
    event: str
    properties: dict[str, Any] | Callable[[World], dict[str, Any]]
    web: Way | None = None
    api: Way | None = None
    cli: Way | None = None
    prepare: Callable[[World], None] | None = None
    # The app trusts a real (tiny) OpenID provider on 127.0.0.1 (``World.oidc``).
    needs_oidc: bool = False
    # An app bug that keeps this action from reporting as the catalogue says: the test is
    # expected to fail (strictly) with this reason until the bug is fixed.
    bug: str | None = None

    def way(self, path: str) -> Way | None:
        return getattr(self, path)

    def expected_properties(self, world: World) -> dict[str, Any]:
        return self.properties(world) if callable(self.properties) else dict(self.properties)


def seed(world: World) -> None:
    """The rows every action starts from (announced before the action window opens)."""
    from app.services import catalog, entries
    from app.services.setup import complete_setup
    from app.services.users import create_user

    with world.app.app_context():
        admin = complete_setup(admin_username=ADMIN, admin_password=ADMIN_PASSWORD,
                               allow_analytics=True, admin_email="admin@example.org")
        alice = create_user(username=ALICE, password=USER_PASSWORD, role="user", timezone="UTC")
        client = catalog.create_client(name="Acme")
        project = catalog.create_project(name="Website", client_id=client.id, billable=True)
        task = catalog.create_task(actor=None, project_id=project.id, name="Design")
        entry = entries.create_entry(alice, project_id=project.id,
                                     started_at=datetime(2026, 1, 5, 9, 0),
                                     ended_at=datetime(2026, 1, 5, 10, 0), billable=True)
        world.ids.update(admin=admin.id, alice=alice.id, client=client.id, project=project.id,
                         task=task.id, entry=entry.id)


# -- preparations ---------------------------------------------------------------------


def _running_timer_started_earlier(world: World) -> None:
    """Alice's timer runs, started ``TIMER_BACKDATE_SECONDS`` ago (so the stop has a length)."""
    from app.models import TimeEntry
    from app.services import timer
    from app.services.users import find_by_username

    with world.app.app_context():
        entry = timer.start_timer(find_by_username(ALICE), project_id=world.ids["project"])
        # Whole seconds, as the timer stores them: the stop then records at least the backdate.
        started = datetime.now(timezone.utc).replace(microsecond=0) \
            - timedelta(seconds=TIMER_BACKDATE_SECONDS)
        db.session.execute(update(TimeEntry).where(TimeEntry.id == entry.id)
                           .values(started_at=started))
        db.session.commit()
        world.ids["running"] = entry.id


def _opted_out(world: World) -> None:
    world.set_consent(False)


def _alice_deactivated(world: World) -> None:
    from app.models import User

    with world.app.app_context():
        db.session.execute(update(User).where(User.id == world.ids[ALICE]).values(active=False))
        db.session.commit()


def _sign_in_limit_used_up(world: World) -> None:
    """Alice's account has used up its failed sign-ins (LOGIN_RATE_LIMIT_PER_ACCOUNT)."""
    allowed = int(world.app.config["LOGIN_RATE_LIMIT_PER_ACCOUNT"].split()[0])
    for _attempt in range(allowed):
        _ok(login(world.new_client(), ALICE, "not-her-password"), 200)


def _alice_linked_to_sso(world: World) -> None:
    """Alice's account is the one the provider's subject signs in to."""
    from app.models import User

    with world.app.app_context():
        db.session.execute(update(User).where(User.id == world.ids[ALICE])
                           .values(oidc_subject=world.oidc.claims["sub"]))
        db.session.commit()


def _alice_linked_to_sso_and_deactivated(world: World) -> None:
    _alice_linked_to_sso(world)
    _alice_deactivated(world)


def _stopped_duration(world: World) -> dict[str, Any]:
    from app.models import TimeEntry

    stored = world.stored(TimeEntry, world.ids["running"], "duration_seconds")
    # The stored length is what the event must say; it is the backdated length, give or
    # take the seconds the test took.
    assert TIMER_BACKDATE_SECONDS <= stored < TIMER_BACKDATE_SECONDS + 120, stored
    return {"duration_seconds": stored}


# -- helpers for the ways --------------------------------------------------------------


def _ok(response, status: int) -> None:
    assert response.status_code == status, (response.status_code,
                                            response.get_data(as_text=True)[:2000])


def _web_post(who: str, url: str, data: dict | None = None, *, token_page: str | None = None,
              status: int = 302):
    def perform(world: World) -> None:
        form = {key: (value(world) if callable(value) else value)
                for key, value in (data or {}).items()}
        target = url(world) if callable(url) else url
        page = token_page(world) if callable(token_page) else token_page
        _ok(world.web(who).post_form(target, form, token_page=page), status)

    return perform


def _web_get(who: str, url: str, status: int = 200):
    def perform(world: World) -> None:
        response = world.web(who).get(url)
        response.get_data()  # a streamed body runs to its end
        _ok(response, status)

    return perform


def _api(who: str, method: str, url, json=None, status: int = 200):
    def perform(world: World) -> None:
        target = url(world) if callable(url) else url
        body = json(world) if callable(json) else json
        response = world.api(who, method, target, json=body)
        response.get_data()
        _ok(response, status)

    return perform


def _id_text(name: str) -> Callable[[World], str]:
    return lambda world: str(world.ids[name])


def _failed_login(username: str, password: str, status: int = 200):
    def perform(world: World) -> None:
        _ok(login(world.new_client(), username, password), status)

    return perform


def _sign_in(world: World) -> None:
    browser = world.new_client()
    _ok(login(browser, ALICE, USER_PASSWORD), 302)


def _sso_sign_in(*, forged_state: bool = False, lands: str = "/"):
    """The code flow: the app redirects to the provider, which sends the browser back (with
    the state it was given, or a forged one); the callback then redirects to ``lands``."""
    def perform(world: World) -> None:
        from urllib.parse import parse_qs, urlsplit

        browser = world.new_client()
        response = browser.get("/login/oidc")
        _ok(response, 302)
        query = {key: values[0] for key, values in
                 parse_qs(urlsplit(response.headers["Location"]).query).items()}
        world.oidc.nonce = query["nonce"]
        state = "forged" if forged_state else query["state"]
        response = browser.get(f"/login/oidc/callback?code=good-code&state={state}")
        _ok(response, 302)
        assert response.headers["Location"] == lands, response.headers["Location"]

    return perform


def _cli(*args: str):
    return lambda world: world.cli(*args)


_REPORT_QUERY = f"start={WEEK_START}&end={WEEK_END}&group_by=project"
_SETTINGS_FORM = {"company_name": "Acme Ltd", "default_timezone": "UTC", "currency": "EUR",
                  "allow_analytics": "y"}


ACTIONS: tuple[Action, ...] = (
    Action("sign-in", "auth.login", {"method": "password"},
           web=Way(_sign_in, ALICE, signed_in=False)),
    Action("sign-in-with-sso", "auth.login", {"method": "oidc"}, needs_oidc=True,
           prepare=_alice_linked_to_sso, web=Way(_sso_sign_in(), ALICE, signed_in=False)),
    # The twins of the refused password sign-ins below, through single sign-on.
    Action("sign-in-with-sso-inactive", "auth.login_failed", {"reason": "inactive"},
           needs_oidc=True, prepare=_alice_linked_to_sso_and_deactivated,
           web=Way(_sso_sign_in(lands="/login"), None, signed_in=False)),
    Action("sign-in-with-sso-refused", "auth.login_failed", {"reason": "other"},
           needs_oidc=True, prepare=_alice_linked_to_sso,
           web=Way(_sso_sign_in(forged_state=True, lands="/login"), None, signed_in=False)),
    Action("sign-in-refused", "auth.login_failed", {"reason": "bad_credentials"},
           web=Way(_failed_login(ALICE, "not-her-password"), None, signed_in=False)),
    Action("sign-in-refused-inactive", "auth.login_failed", {"reason": "inactive"},
           prepare=_alice_deactivated,
           web=Way(_failed_login(ALICE, USER_PASSWORD), None, signed_in=False)),
    # The catalogue's third reason: a sign-in refused by the rate limit (HTTP 429).
    Action("sign-in-throttled", "auth.login_failed", {"reason": "throttled"},
           prepare=_sign_in_limit_used_up,
           web=Way(_failed_login(ALICE, "not-her-password", 429), None, signed_in=False)),
    Action("sign-out", "auth.logout", {},
           web=Way(_web_post(ALICE, "/logout"), ALICE)),
    Action("create-client", "client.created", {},
           web=Way(_web_post(ADMIN, "/clients/new", {"name": "Globex"},
                             token_page="/clients/new"), ADMIN),
           api=Way(_api(ADMIN, "POST", "/api/v1/clients", {"name": "Globex"}, 201), ADMIN)),
    # Not billable (the form's box left unticked), for a client: both differ from the defaults.
    Action("create-project", "project.created", {"billable": False, "has_client": True},
           web=Way(_web_post(ADMIN, "/projects/new",
                             {"name": "Intranet", "client_id": _id_text("client"),
                              "color": "#3b82f6"}, token_page="/projects/new"), ADMIN),
           api=Way(_api(ADMIN, "POST", "/api/v1/projects",
                        lambda w: {"name": "Intranet", "client_id": w.ids["client"],
                                   "billable": False}, 201), ADMIN)),
    Action("create-task", "task.created", {},
           web=Way(_web_post(ALICE, lambda w: f"/projects/{w.ids['project']}/tasks",
                             {"task-name": "Review", "task-status": "todo"},
                             token_page=lambda w: f"/projects/{w.ids['project']}"), ALICE),
           api=Way(_api(ALICE, "POST", "/api/v1/tasks",
                        lambda w: {"project_id": w.ids["project"], "name": "Review"}, 201),
                   ALICE)),
    Action("start-timer", "timer.started", {"has_task": True},
           web=Way(_web_post(ALICE, "/timer/start",
                             {"timer-project_id": _id_text("project"),
                              "timer-task_id": _id_text("task")}, token_page="/"), ALICE),
           api=Way(_api(ALICE, "POST", "/api/v1/timer/start",
                        lambda w: {"project_id": w.ids["project"], "task_id": w.ids["task"]},
                        201), ALICE)),
    # The dashboard's "restart" of a recent entry (which has no task) is a timer start too.
    Action("restart-recent-entry", "timer.started", {"has_task": False},
           web=Way(_web_post(ALICE, lambda w: f"/timer/restart/{w.ids['entry']}",
                             token_page="/"), ALICE)),
    Action("stop-timer", "timer.stopped", _stopped_duration,
           prepare=_running_timer_started_earlier,
           web=Way(_web_post(ALICE, "/timer/stop", token_page="/"), ALICE),
           api=Way(_api(ALICE, "POST", "/api/v1/timer/stop"), ALICE)),
    # 90 minutes, not billable ("Not billable" in the menu / false), made by hand.
    Action("create-entry", "time_entry.created",
           {"duration_seconds": 5400, "billable": False, "entry_source": "manual"},
           web=Way(_web_post(ALICE, "/entries/new",
                             {"project_id": _id_text("project"), "task_id": "0",
                              "started_at": "2026-01-06T09:00", "ended_at": "2026-01-06T10:30",
                              "billable": "no"},
                             token_page="/entries/new"), ALICE),
           api=Way(_api(ALICE, "POST", "/api/v1/time-entries",
                        lambda w: {"project_id": w.ids["project"],
                                   "started_at": "2026-01-06T09:00:00",
                                   "ended_at": "2026-01-06T10:30:00", "billable": False}, 201),
                   ALICE)),
    # The seeded 09:00-10:00 entry now ends at 11:00.
    Action("edit-entry", "time_entry.updated", {"duration_seconds": 7200},
           web=Way(_web_post(ALICE, lambda w: f"/entries/{w.ids['entry']}/edit",
                             {"project_id": _id_text("project"), "task_id": "0",
                              "started_at": "2026-01-05T09:00", "ended_at": "2026-01-05T11:00",
                              "billable": "y"},
                             token_page=lambda w: f"/entries/{w.ids['entry']}/edit"), ALICE),
           api=Way(_api(ALICE, "PATCH", lambda w: f"/api/v1/time-entries/{w.ids['entry']}",
                        {"ended_at": "2026-01-05T11:00:00"}), ALICE)),
    Action("delete-entry", "time_entry.deleted", {},
           web=Way(_web_post(ALICE, lambda w: f"/entries/{w.ids['entry']}/delete",
                             token_page="/entries"), ALICE),
           api=Way(_api(ALICE, "DELETE", lambda w: f"/api/v1/time-entries/{w.ids['entry']}",
                        status=204), ALICE)),
    # The seeded week: 7 days, one project with time in it.
    Action("view-report", "report.viewed", {"period_days": 7, "row_count": 1},
           web=Way(_web_get(ALICE, f"/reports?preset=custom&{_REPORT_QUERY}"), ALICE),
           api=Way(_api(ALICE, "GET", f"/api/v1/reports/summary?{_REPORT_QUERY}"), ALICE)),
    Action("export-csv", "export.csv", {},
           web=Way(_web_get(ALICE, f"/reports/export.csv?start={WEEK_START}&end={WEEK_END}"),
                   ALICE),
           api=Way(_api(ALICE, "GET",
                        f"/api/v1/time-entries/export.csv?start={WEEK_START}&end={WEEK_END}"),
                   ALICE)),
    # The API has no endpoint that creates tokens (a token cannot mint tokens).
    Action("create-api-token", "api_token.created", {},
           web=Way(_web_post(ALICE, "/profile/tokens", {"name": "laptop"}, token_page="/profile"),
                   ALICE),
           cli=Way(_cli("create-token", ALICE, "--name", "laptop"), ALICE)),
    # Saved with the analytics box still ticked. The API has no settings endpoint.
    Action("save-settings", "settings.updated", {},
           web=Way(_web_post(ADMIN, "/admin/settings", _SETTINGS_FORM,
                             token_page="/admin/settings"), ADMIN)),
    # Opted out first; each place turns detailed analytics back on. The CLI has no user.
    Action("turn-analytics-on", "telemetry.preference_changed", {"enabled": True},
           prepare=_opted_out,
           web=Way(_web_post(ADMIN, "/admin/telemetry/detailed-analytics", {"enabled": "on"},
                             token_page="/admin/telemetry", status=303), ADMIN),
           api=Way(_api(ADMIN, "PUT", "/api/v1/admin/telemetry", {"detailed_analytics": True}),
                   ADMIN),
           cli=Way(_cli("telemetry", "enable"), None)),
    # The same through the checkbox in Admin → Settings.
    Action("turn-analytics-on-in-settings", "telemetry.preference_changed", {"enabled": True},
           prepare=_opted_out,
           web=Way(_web_post(ADMIN, "/admin/settings", _SETTINGS_FORM,
                             token_page="/admin/settings"), ADMIN)),
    # JSON answers are not pages: the API has no page view, nor has the CLI.
    Action("view-page", "page.viewed", {"route": "/projects/<int:project_id>",
                                        "status_class": "2xx"},
           web=Way(lambda w: _web_get(ALICE, f"/projects/{w.ids['project']}")(w), ALICE)),
    Action("view-missing-page", "page.viewed", {"route": "/projects/<int:project_id>",
                                                "status_class": "4xx"},
           web=Way(_web_get(ALICE, "/projects/999999", status=404), ALICE)),
)

# Each (action, path) that exists, in table order: the parameters of the coverage test.
CASES: tuple[tuple[Action, str], ...] = tuple(
    (action, path) for action in ACTIONS for path in PATHS if action.way(path) is not None)


def case_id(case: tuple[Action, str]) -> str:
    action, path = case
    return f"{action.id}-{path}"


__all__ = ["ACTIONS", "CASES", "PATHS", "Action", "Way", "World", "case_id", "seed"]
