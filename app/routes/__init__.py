"""HTTP blueprints. Views are thin: parse input, call a service, render."""

from __future__ import annotations

from flask import Flask, g, render_template, request
from flask_wtf.csrf import CSRFError

from .. import events

ERROR_PAGES = {
    400: ("Bad request", "The request could not be understood."),
    403: ("Not allowed", "You do not have permission to open this page."),
    404: ("Not found", "There is nothing at this address."),
    405: ("Method not allowed", "This address does not accept that request."),
    413: ("Too large", "The request was larger than this server accepts."),
    429: ("Too many attempts", "Too many failed attempts. Wait a few minutes and try again."),
    500: ("Something went wrong", "An unexpected error occurred; it has been logged."),
    503: ("Temporarily unavailable", "The database cannot be reached right now. "
          "Try again in a minute."),
}
DATABASE_UNAVAILABLE = "The database cannot be reached right now; try again in a minute."
RETRY_AFTER_SECONDS = 30


def register_blueprints(app: Flask) -> None:
    from . import (admin, admin_telemetry, api, auth, catalog, entries, health, main, reports,
                   setup, timesheet, tokens)

    for module in (health, setup, auth, main, entries, timesheet, catalog, admin, admin_telemetry,
                   reports, tokens, api):
        app.register_blueprint(module.bp)
    _register_error_pages(app)
    app.before_request(_mark_event_source)
    app.teardown_request(_reset_event_source)


def _mark_event_source() -> None:
    """What services announce during this request came from the API or the web UI."""
    g.event_source_token = events.set_source(
        events.SOURCE_API if request.blueprint == "api" else events.SOURCE_WEB)


def _reset_event_source(_exc=None) -> None:
    token = g.pop("event_source_token", None)
    if token is not None:
        events.reset_source(token)


def _error_page(status: int, title: str | None = None, message: str | None = None):
    if request.path.startswith("/api/"):  # the API answers JSON, never an HTML page
        from .api import app_level_error

        return app_level_error(status)
    default_title, default_message = ERROR_PAGES[status]
    return (
        render_template(
            "error.html", status=status, title=title or default_title,
            message=message or default_message,
        ),
        status,
    )


def _database_unavailable(exc):
    """The database is down, unreachable, or refuses writes (read-only file): 503, not 500.

    SQLAlchemy raises OperationalError for a refused connection, a dropped one and
    SQLite's "readonly database" or "database is locked"; none of them is a bug in
    the request, and a client may retry.
    """
    from ..extensions import db

    try:
        db.session.rollback()
    except Exception:  # the session may be as broken as the connection
        pass
    from flask import current_app

    current_app.logger.warning("database unavailable: %s", type(getattr(exc, "orig", exc)).__name__)
    if request.path.startswith("/api/"):
        from .api import json_error

        response = json_error(503, DATABASE_UNAVAILABLE, "database_unavailable")
    else:
        from flask import make_response

        title, message = ERROR_PAGES[503]
        response = make_response(render_template(
            "unavailable.html", status=503, title=title, message=message), 503)
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def _register_error_pages(app: Flask) -> None:
    from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError

    for error in (OperationalError, InterfaceError, DisconnectionError):
        app.register_error_handler(error, _database_unavailable)

    @app.errorhandler(CSRFError)
    def csrf_error(exc):
        return _error_page(
            400,
            "Form expired",
            "The form was missing its security token or it expired. "
            "Go back, reload the page and try again.",
        )

    for status in ERROR_PAGES:
        app.register_error_handler(status, lambda exc, status=status: _error_page(status))
