"""One access line per request, and the request hooks that time it and bind its id."""

from __future__ import annotations

import logging
import time
from typing import Any

from flask import g, request

from ...auth import authenticated_user_id
from .ids import REQUEST_ID_HEADER, bind_request_id, unbind_request_id

ACCESS_LOGGER = "app.access"


def start_request() -> None:
    """``before_request``: start the clock and bind the request's id."""
    g._tt_started = time.perf_counter()
    g._tt_request_id, g._tt_request_id_token = bind_request_id(
        request.headers.get(REQUEST_ID_HEADER))


def finish_request(response):
    """``after_request``: echo the id in the response and write the access line."""
    request_id = g.get("_tt_request_id")
    if request_id:
        response.headers[REQUEST_ID_HEADER] = request_id
    _log_access(response.status_code)
    return response


def end_request(exc: BaseException | None) -> None:
    """``teardown_request``: the access line of a request that raised, then unbind the id."""
    if exc is not None and not g.get("_tt_access_logged"):
        _log_access(500)  # the exception propagated past after_request (testing mode)
    token = g.pop("_tt_request_id_token", None)
    if token is not None:
        unbind_request_id(token)


def route_template() -> str:
    """The URL rule that matched (``/entries/<int:entry_id>``), or ``<unmatched>``."""
    rule = request.url_rule
    return rule.rule if rule is not None else "<unmatched>"


def duration_seconds() -> float | None:
    """Seconds since this request started (None before our first hook ran)."""
    started = g.get("_tt_started")
    return None if started is None else time.perf_counter() - started


def request_started_at() -> float | None:
    """Wall-clock time (seconds since the epoch) this request started, None before our hook."""
    seconds = duration_seconds()
    return None if seconds is None else time.time() - seconds


def _log_access(status: int) -> None:
    g._tt_access_logged = True
    route = route_template()
    fields: dict[str, Any] = {"method": request.method, "route": route, "status": status}
    seconds = duration_seconds()
    if seconds is not None:
        fields["duration_ms"] = round(seconds * 1000, 2)
    user_id = authenticated_user_id()
    if user_id is not None:
        fields["user_id"] = user_id
    # Scrapes every few seconds would drown the interesting lines.
    level = logging.DEBUG if request.endpoint == "observability.metrics" else logging.INFO
    logger = logging.getLogger(ACCESS_LOGGER)
    if logger.isEnabledFor(level):
        # Logger.log would also walk the stack for the caller's file and line, which
        # no line of ours shows (a tenth of the access line's cost).
        logger.handle(logger.makeRecord(ACCESS_LOGGER, level, __file__, 0, "request", (), None,
                                        extra=fields))
