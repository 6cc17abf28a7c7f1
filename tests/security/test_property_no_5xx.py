"""Property: arbitrary text, numbers and dates posted to every web form and API route give no
5xx, and a refused request (4xx) leaves the database exactly as it was (no partial write).

Hypothesis draws a route and a value for each of its fields (plus one unknown field now and
then); the example count is kept modest so `make test` stays fast. Both databases.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from sqlalchemy import text as sql

from app.extensions import db

# Per route and database; modest, so `make test` stays fast (about a minute for all of
# them); derandomized, so a run is reproducible: the same examples on every machine.
EXAMPLES = 12
_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')

# Rows compared before and after a refused request; columns a read may touch are left out.
SNAPSHOT = {
    "users": "id, username, email, display_name, password_hash, role, active, timezone, "
             "session_generation",
    "clients": "*", "projects": "*", "tasks": "*", "time_entries": "*",
    "api_tokens": "id, user_id, name, token_hash, revoked_at, expires_at, scope",
    "settings": "company_name, default_timezone, currency",
}

# -- values --------------------------------------------------------------------
# Each field gets mostly values of its own kind (so validation is passed often enough to
# reach the database) and now and then anything at all.

_dates = st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31))
_datetimes = st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59))
_nasty = st.sampled_from([
    "\u0000=HYPERLINK(\"http://x.example\")", "\u202eevil", "Ａｃｍｅ", "Acme\u200b", "0", "-1",
    str(2**31), str(2**63), "1e20", "NaN", "Infinity", " ", "", "a" * 6000, "\x00", "\x7f\x85",
])
# Text made mostly of the characters the review found trouble with (controls, C1, bidi,
# zero-width, formula starts), so a budget of ~80 examples meets them; plus any text.
_troublesome = st.text(alphabet=st.sampled_from(
    "\x00\x07\t\n\r\x1b\x7f\x85\x9b\u202e\u200b\ufeff\uff21=+-@ aA1"), min_size=1, max_size=12)
_text = st.one_of(st.text(max_size=30), _troublesome, _nasty)  # no surrogates: see below
_json_text = st.one_of(_text, st.text(alphabet=st.characters(
    min_codepoint=0, max_codepoint=0x10FFFF, exclude_categories=()), max_size=20))
_ids = st.one_of(st.sampled_from([1, 2, 3]), st.integers(min_value=-5, max_value=2**64))
_local_dt = st.one_of(
    st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2026, 12, 31)), _datetimes)
_dt_text = st.one_of(_local_dt.map(lambda d: d.strftime("%Y-%m-%dT%H:%M")),
                     _local_dt.map(lambda d: d.isoformat() + "+14:00"),
                     _local_dt.map(lambda d: d.isoformat() + "-12:00"))
_day_text = st.one_of(st.dates(min_value=date(2026, 1, 1), max_value=date(2026, 12, 31)),
                      _dates).map(date.isoformat)
_rate = st.one_of(st.decimals(allow_nan=True, allow_infinity=True).map(str),
                  st.integers(min_value=-10, max_value=10**9), st.floats(), _nasty)
_choices = {
    "status": ["todo", "in_progress", "done", "Done", ""],
    "timezone": ["UTC", "Europe/Berlin", "Pacific/Kiritimati", "Etc/GMT+12", "Mars/Base", ""],
    "currency": ["EUR", "USD", "XXX", ""], "role": ["user", "admin", "root"],
    "expires_in": ["never", "7d", "30d", "90d", "1y", "100y", ""],
    "group_by": ["project", "client", "task", "user", "day", "week"],
    "preset": ["this_week", "last_month", "custom", "x"],
    "color": ["#3b82f6", "#FFFFFF", "red", "#12345"], "billable": ["yes", "no", "maybe"],
}
_BOOLS = {"archived", "confirm_long", "read_only", "allow_analytics", "active"}


def _kind(field: str, for_json: bool):
    name = field.split("-")[-1]
    anything = (json_scalar if for_json else form_value)
    if name.endswith("_id"):
        own = _ids if for_json else _ids.map(str)
    elif name in ("started_at", "ended_at"):
        own = _dt_text
    elif name in ("start", "end"):
        own = _day_text
    elif name.endswith("hourly_rate"):
        own = _rate
    elif name in ("page", "per_page"):
        own = st.integers(min_value=-3, max_value=2**70).map(str)
    elif name in _BOOLS or (name == "billable" and for_json):
        own = st.booleans() if for_json else st.sampled_from(["y", "", "on", "false"])
    elif name in _choices or name.endswith("timezone"):
        own = st.sampled_from(_choices.get(name, _choices["timezone"]))
    else:  # names, notes, emails, passwords, usernames: troublesome characters first
        own = st.one_of(_troublesome, _troublesome, _json_text if for_json else _text)
    return st.one_of(own, own, own, anything)


# Form values: text without surrogates (a browser cannot send one).
form_value = st.one_of(
    _text, st.integers().map(str), st.floats(allow_nan=True, allow_infinity=True).map(str),
    _dates.map(date.isoformat), _datetimes.map(lambda d: d.strftime("%Y-%m-%dT%H:%M")),
)
# JSON values: anything JSON can carry, lone surrogates (as \\udXXX escapes) included.
json_scalar = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False), _json_text, _dates.map(date.isoformat),
    _datetimes.map(lambda d: d.isoformat()),
)
json_value = st.one_of(json_scalar, st.lists(json_scalar, max_size=2),
                       st.dictionaries(st.text(max_size=5), json_scalar, max_size=2))


# -- the routes --------------------------------------------------------------------

WEB_FORMS = {
    "/clients/new": ["name", "default_hourly_rate"],
    "/clients/{client_id}/edit": ["name", "default_hourly_rate", "archived"],
    "/projects/new": ["name", "client_id", "billable", "hourly_rate", "color"],
    "/projects/{project_id}/edit": ["name", "client_id", "billable", "hourly_rate", "color",
                                    "archived"],
    "/projects/{project_id}/tasks": ["task-name", "task-status", "task-hourly_rate"],
    "/tasks/{task_id}/edit": ["name", "status", "hourly_rate"],
    "/entries/new": ["project_id", "task_id", "started_at", "ended_at", "notes", "billable",
                     "confirm_long"],
    "/entries/{entry_id}/edit": ["project_id", "task_id", "started_at", "ended_at", "notes",
                                 "billable", "confirm_long"],
    "/timer/start": ["timer-project_id", "timer-task_id", "timer-notes"],
    "/profile": ["profile-display_name", "profile-email", "profile-timezone"],
    "/profile#password": ["password-current_password", "password-new_password",
                          "password-confirm_password"],
    "/profile/tokens": ["name", "expires_in", "read_only"],
    "/admin/users/new": ["username", "display_name", "email", "password", "role", "timezone"],
    "/admin/users/{user_id}": ["user-role", "user-active"],
    "/admin/users/{user_id}#reset": ["reset-new_password"],
    "/admin/settings": ["company_name", "default_timezone", "currency", "allow_analytics"],
}

API_ROUTES = {
    ("POST", "/api/v1/clients"): ["name", "default_hourly_rate", "archived"],
    ("PATCH", "/api/v1/clients/{client_id}"): ["name", "default_hourly_rate", "archived"],
    ("POST", "/api/v1/projects"): ["name", "client_id", "billable", "hourly_rate", "color",
                                   "archived"],
    ("PATCH", "/api/v1/projects/{project_id}"): ["name", "client_id", "billable", "hourly_rate",
                                                 "color", "archived"],
    ("POST", "/api/v1/tasks"): ["project_id", "name", "status", "hourly_rate"],
    ("PATCH", "/api/v1/tasks/{task_id}"): ["name", "status", "hourly_rate"],
    ("POST", "/api/v1/time-entries"): ["project_id", "task_id", "started_at", "ended_at", "notes",
                                       "billable", "confirm_long"],
    ("PATCH", "/api/v1/time-entries/{entry_id}"): ["project_id", "task_id", "started_at",
                                                   "ended_at", "notes", "billable",
                                                   "confirm_long"],
    ("POST", "/api/v1/timer/start"): ["project_id", "task_id", "notes"],
    ("GET", "/api/v1/time-entries"): ["start", "end", "project_id", "client_id", "user_id", "page",
                                      "per_page"],
    ("GET", "/api/v1/reports/summary"): ["start", "end", "group_by", "billable", "user_id",
                                         "task_id"],
    ("GET", "/api/v1/time-entries/export.csv"): ["start", "end", "billable", "project_id"],
    ("GET", "/api/v1/tasks"): ["project_id", "status", "page"],
}
WEB_QUERIES = {
    "/entries": ["start", "end", "project_id", "client_id", "user_id", "page"],
    "/reports": ["preset", "start", "end", "group_by", "billable", "user_id", "client_id"],
    "/reports/export.csv": ["start", "end", "billable", "project_id", "task_id"],
}


@pytest.fixture
def world(ready_app, admin_client, make_project, make_user, make_token):
    """An admin browser and token, a second user, a client, project, task and entry."""
    from app.services import entries as entry_service
    from app.services.users import find_by_username

    ids = make_project(task="Design")
    ids["user_id"] = make_user("bob")
    with ready_app.app_context():
        entry = entry_service.create_entry(
            find_by_username("admin"), project_id=ids["project_id"], task_id=ids["task_id"],
            started_at=datetime(2026, 11, 2, 9), ended_at=datetime(2026, 11, 2, 10), notes="n")
        ids["entry_id"] = entry.id
    return {"app": ready_app, "browser": admin_client, "token": make_token("admin"), "ids": ids}


def _snapshot(app) -> dict:
    with app.app_context():
        state = {table: sorted(map(tuple, db.session.execute(
            sql(f"SELECT {columns} FROM {table}")).all()), key=repr)
            for table, columns in SNAPSHOT.items()}
        db.session.remove()
    return state


def _check(response, app, before):
    status = response.status_code
    body = response.get_data(as_text=True)[:500]
    response.close()
    assert status < 500, (status, body)
    if status >= 400:
        assert _snapshot(app) == before, f"a refused request ({status}) changed the database"


def _fields_and_values(names, for_json: bool):
    return st.fixed_dictionaries({}, optional={name: _kind(name, for_json) for name in names})


_SETTINGS = settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                     suppress_health_check=[HealthCheck.function_scoped_fixture,
                                            HealthCheck.too_slow, HealthCheck.data_too_large])


def _for_every_route(routes, draw_and_send) -> None:
    """Run the property for each route with its own example budget (one shared world):
    drawn from all routes at once, Hypothesis would spend most examples on a few."""
    for route in routes:
        _property(draw_and_send, route)()


def _property(draw_and_send, route):
    """The Hypothesis test for one route (a closure: @given takes no bound arguments)."""

    @_SETTINGS
    @given(data=st.data())
    def one_route(data):
        draw_and_send(route, data)

    return one_route


def test_web_forms_never_answer_5xx_or_write_half(world):
    app, browser = world["app"], world["browser"]

    def send(route, data):
        fields = data.draw(_fields_and_values(WEB_FORMS[route], False), label=route)
        fields = {name: str(value) for name, value in fields.items()}
        url = route.split("#")[0].format(**world["ids"])
        if route == "/profile#password":
            fields.setdefault("password-new_password", "x")  # tells the view which form it is
        page = browser.get("/" if url.startswith("/timer") else url)
        match = _CSRF.search(page.get_data(as_text=True))
        page.close()
        # The admin's session survives every example (a reset of one's own password signs
        # in again), so the page always carries a token.
        assert match is not None, (route, page.status_code)
        before = _snapshot(app)
        _check(browser.post(url, data={**fields, "csrf_token": match.group(1)}), app, before)

    _for_every_route(sorted(WEB_FORMS), send)


def test_api_routes_never_answer_5xx_or_write_half(world):
    app = world["app"]
    client = app.test_client()
    headers = {"Authorization": f"Bearer {world['token']}"}

    def send(key, data):
        method, route = key
        fields = data.draw(_fields_and_values(API_ROUTES[key], for_json=method != "GET"),
                           label=f"{method} {route}")
        url = route.format(**world["ids"])
        before = _snapshot(app)
        if method == "GET":
            response = client.get(url, query_string={k: str(v) for k, v in fields.items()},
                                  headers=headers)
        else:
            extra = data.draw(st.one_of(st.just({}), st.dictionaries(
                st.sampled_from(["extra", "id", "user_id"]), json_value, max_size=1)))
            body = json.dumps({**fields, **extra}, ensure_ascii=True)  # surrogates as \\udXXX
            response = client.open(url, method=method, data=body, headers={
                **headers, "Content-Type": "application/json"})
        _check(response, app, before)

    _for_every_route(sorted(API_ROUTES), send)


def test_web_lists_and_exports_never_answer_5xx(world):
    def send(route, data):
        query = data.draw(_fields_and_values(WEB_QUERIES[route], False), label=route)
        response = world["browser"].get(route, query_string={k: str(v) for k, v in query.items()})
        assert response.status_code < 500, (route, response.get_data(as_text=True)[:300])
        response.close()

    _for_every_route(sorted(WEB_QUERIES), send)
