"""Error reporting to Sentry, only when ``SENTRY_DSN`` is set, and scrubbed before it leaves.

Nothing identifying leaves the process: no default PII (``DATA_COLLECTION``), a constant server name
instead of the host name, no local variables, no request bodies, cookies, query
strings or headers beyond a short allowlist, and every string is scrubbed of
email and IP addresses and of the values a database error quotes (statement
parameters, PostgreSQL's DETAIL lines). The user on an event is the internal id only; the
request id is a tag, so an event can be matched to its log lines.
"""

from __future__ import annotations

import functools
import ipaddress
import re
import socket
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from flask import Flask, got_request_exception, has_request_context, request

from ..auth import authenticated_user_id
from .logging import (
    ACCESS_LOGGER, current_request_id, request_started_at, route_template, scrub_database_values,
)

SERVER_NAME = "timetracker"  # sent instead of the machine's host name
TEST_ERROR_PATH = "/_observability/test-error"
TEST_ERROR_MESSAGE = "deliberate error from the observability test route"
# Request headers worth keeping on an event; everything else (cookies,
# authorization, forwarded-for, user agent...) is dropped.
_KEPT_HEADERS = {"accept", "content-type", "content-length", "x-request-id"}
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_IPV4_CANDIDATE = re.compile(r"(?<![\d.])\d{1,3}(?:\.\d{1,3}){3}(?![\d.])")
_IPV6_CANDIDATE = re.compile(r"(?<![0-9A-Fa-f:])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?![0-9A-Fa-f:])")
_SENSITIVE_KEY = re.compile(r"pass|secret|token|cookie|authori|email|username|csrf", re.IGNORECASE)
_DROPPED_REQUEST_KEYS = ("cookies", "data", "query_string", "env")
DATA_COLLECTION: dict[str, Any] = {
    "user_info": False,
    "cookies": {"mode": "off"},
    "http_headers": {"request": {"mode": "allowlist", "terms": sorted(_KEPT_HEADERS)}},
    "http_bodies": [],
    "url_query_params": {"mode": "off"},
    "graphql": {"document": False, "variables": False},
    "gen_ai": {"inputs": False, "outputs": False},
    "database_query_data": False,
    "queues": False,
    "stack_frame_variables": False,
}


def init_app(app: Flask) -> None:
    """Start the Sentry SDK when ``SENTRY_DSN`` is set; add the testing-only error route."""
    if app.testing:
        app.add_url_rule(TEST_ERROR_PATH, "observability.test_error", _raise_test_error)
    dsn = app.config.get("SENTRY_DSN")
    if not dsn:
        return
    import sentry_sdk
    from sentry_sdk.integrations.flask import FlaskIntegration
    from sentry_sdk.integrations.logging import LoggingIntegration, ignore_logger
    from sentry_sdk.integrations.threading import ThreadingIntegration

    traces_rate = app.config["SENTRY_TRACES_RATE"]
    tracing = traces_rate > 0
    # gunicorn's gthread worker submits every request to a thread pool: with
    # scope propagation the SDK would copy two scopes per request for nothing.
    integrations = [
        ThreadingIntegration(propagate_scope=False),
        # The SDK's defaults, without its handler for Sentry's Logs product (not enabled
        # here): it took a lock on every log line only to find the product off.
        LoggingIntegration(sentry_logs_level=None),
    ]
    if tracing:
        # Transactions need the SDK's WSGI middleware around every request.
        integrations.append(FlaskIntegration(transaction_style="url"))
    sentry_sdk.init(
        dsn=dsn,
        # Only the integrations named here (plus the SDK's defaults: logging,
        # threading, excepthook...). Auto-enabling would add SQLAlchemy's, which
        # records every query as a breadcrumb and span and walks the stack to find
        # its source: 0.5-1 ms per query, a quarter of a timer request's CPU
        # (docs/performance.md, scenario 1). Errors keep their stack traces.
        integrations=integrations,
        auto_enabling_integrations=False,
        release=app.config["APP_VERSION"],
        environment=app.config["SENTRY_ENVIRONMENT"],
        # A rate of 0 means tracing off, not "sample nothing": with 0.0 the SDK still
        # builds an unsampled transaction and its spans on every request.
        traces_sample_rate=traces_rate if tracing else None,
        # With tracing off the SDK would still add sentry-trace/baggage headers to the
        # app's outgoing requests (the telemetry sink, OIDC), telling a third party
        # our Sentry public key, release and trace ids: propagate to no one.
        trace_propagation_targets=[],
        # sentry-sdk 2.75 deprecates send_default_pii in favour of data_collection;
        # this is send_default_pii=False and stricter: no user info, cookies,
        # bodies, query strings, SQL parameters or local variables, and only the
        # allowlisted request headers.
        data_collection=DATA_COLLECTION,
        server_name=SERVER_NAME,
        include_local_variables=False,
        max_request_body_size="never",
        before_send=scrub_event,
        before_send_transaction=scrub_event,
        before_breadcrumb=scrub_breadcrumb,
        # Release-health sessions and client reports are not needed to debug errors.
        auto_session_tracking=False,
        send_client_reports=False,
    )
    # The access line is logged after the view, when an error of this request has
    # been captured already, and the next request starts with no breadcrumbs: as a
    # breadcrumb it is never seen, but it cost a breadcrumb and a scrub per request.
    ignore_logger(ACCESS_LOGGER)
    if not tracing:
        # Errors only: Flask's own signal for an unhandled exception is all it takes.
        # The SDK's middleware forked two scopes and parsed the request on every
        # request (a quarter of /healthz's CPU, docs/performance.md) to serve the
        # rare one that fails; what an error event needs is read when it happens.
        got_request_exception.connect_via(app)(_report_unhandled_error)


def _report_unhandled_error(sender: Flask, exception: BaseException, **_kwargs: Any) -> None:
    """One error event for an exception no handler took, with its route and request."""
    import sentry_sdk
    from sentry_sdk.utils import event_from_exception

    event, hint = event_from_exception(
        exception, client_options=sentry_sdk.get_client().options,
        mechanism={"type": "flask", "handled": False})
    event["transaction"] = route_template()
    event["request"] = {
        "url": request.base_url, "method": request.method,
        "headers": {key: value for key, value in request.headers.items()
                    if key.lower() in _KEPT_HEADERS},
    }
    sentry_sdk.capture_event(event, hint=hint)


def _raise_test_error():
    raise RuntimeError(TEST_ERROR_MESSAGE)


def scrub_event(event: dict[str, Any], _hint: dict[str, Any] | None = None) -> dict[str, Any]:
    """``before_send``: drop what could identify a person, add the request id and user id."""
    event["server_name"] = SERVER_NAME
    request = event.get("request")
    if isinstance(request, dict):
        for key in _DROPPED_REQUEST_KEYS:
            request.pop(key, None)
        if isinstance(request.get("url"), str):
            request["url"] = _without_query(request["url"])
        headers = request.get("headers")
        if isinstance(headers, dict):
            request["headers"] = {k: v for k, v in headers.items() if k.lower() in _KEPT_HEADERS}
    event.pop("user", None)
    if has_request_context():
        user_id = _user_id()
        if user_id is not None:
            event["user"] = {"id": str(user_id)}
        request_id = current_request_id()
        if request_id:
            tags = event.get("tags")
            if not isinstance(tags, dict):
                tags = event["tags"] = {}
            tags["request_id"] = request_id
    extra = event.get("extra")
    if isinstance(extra, dict):
        extra.pop("sys.argv", None)  # command lines can carry secrets
    breadcrumbs = event.get("breadcrumbs")
    if isinstance(breadcrumbs, dict) and isinstance(breadcrumbs.get("values"), list):
        crumbs = breadcrumbs["values"]
        if has_request_context():
            crumbs = _since(crumbs, request_started_at())
        breadcrumbs["values"] = [c for c in map(scrub_breadcrumb, crumbs) if c]
    return _scrub(event)


def _since(crumbs: list[dict[str, Any]], started: float | None) -> list[dict[str, Any]]:
    """The breadcrumbs of this request: without the SDK's per-request scope, a worker
    thread's scope also holds what its earlier requests logged."""
    if started is None:
        return crumbs
    return [crumb for crumb in crumbs if _epoch(crumb.get("timestamp"), started) >= started]


def _epoch(timestamp: Any, default: float) -> float:
    if isinstance(timestamp, datetime):
        return timestamp.timestamp()
    if isinstance(timestamp, (int, float)):
        return float(timestamp)
    if isinstance(timestamp, str):  # serialised by the SDK before before_send runs
        try:
            return datetime.fromisoformat(timestamp).timestamp()
        except ValueError:
            pass
    return default  # unknown form: keep the crumb


def _user_id() -> int | None:
    user_id = authenticated_user_id()
    if user_id is not None:
        return user_id
    # The failing view never looked at the user: load it now (errors only, not per request).
    try:
        from flask_login import current_user

        return current_user.id if current_user.is_authenticated else None
    except Exception:  # the error may be the database itself; an event without user is fine
        return None


def scrub_breadcrumb(crumb: dict[str, Any], _hint: dict[str, Any] | None = None) -> dict[str, Any]:
    """``before_breadcrumb``: URLs lose their query, credential-like data keys their value."""
    data = crumb.get("data")
    if isinstance(data, dict):
        for key in list(data):
            if _SENSITIVE_KEY.search(str(key)) and not str(key).endswith("_id"):
                data[key] = "[Filtered]"
            elif key == "url" and isinstance(data[key], str):
                data[key] = _without_query(data[key])
        data.pop("http.query", None)
    return _scrub(crumb)


def _without_query(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return _scrub_text(value)
    if isinstance(value, dict):
        return {key: _scrub(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_scrub(item) for item in value]
    if isinstance(value, tuple):
        return tuple(_scrub(item) for item in value)
    return value


def _scrub_text(text: str) -> str:
    # Exception values (a database error's message) may quote statement parameters
    # and row values: notes, names, emails.
    text = scrub_database_values(text)
    text = _EMAIL.sub("[email]", text)
    text = _IPV4_CANDIDATE.sub(_ip_or_same, text)
    if text.count(":") >= 2:
        text = _IPV6_CANDIDATE.sub(_ip_or_same, text)
    hostname = _hostname_pattern()
    if hostname is not None:
        text = hostname.sub("[hostname]", text)
    return text


def _ip_or_same(match: re.Match[str]) -> str:
    try:
        ipaddress.ip_address(match.group(0))
    except ValueError:
        return match.group(0)  # a time like 09:30:00 or a version, not an address
    return "[ip]"


@functools.cache
def _hostname_pattern() -> re.Pattern[str] | None:
    """The machine's host name as a whole word, compiled once (None if it is ours)."""
    hostname = socket.gethostname()
    if not hostname or hostname == SERVER_NAME:
        return None
    return re.compile(rf"(?<![\w-]){re.escape(hostname)}(?![\w-])")
