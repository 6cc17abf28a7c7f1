"""HTTP blueprints. Views are thin: parse input, call a service, render."""

from __future__ import annotations

from flask import Flask, render_template, request
from flask_wtf.csrf import CSRFError

ERROR_PAGES = {
    400: ("Bad request", "The request could not be understood."),
    403: ("Not allowed", "You do not have permission to open this page."),
    404: ("Not found", "There is nothing at this address."),
    405: ("Method not allowed", "This address does not accept that request."),
    413: ("Too large", "The request was larger than this server accepts."),
    429: ("Too many attempts", "Too many failed attempts. Wait a few minutes and try again."),
    500: ("Something went wrong", "An unexpected error occurred; it has been logged."),
}


def register_blueprints(app: Flask) -> None:
    from . import (admin, admin_telemetry, api, auth, catalog, entries, health, main, reports,
                   setup, timesheet, tokens)

    for module in (health, setup, auth, main, entries, timesheet, catalog, admin, admin_telemetry,
                   reports, tokens, api):
        app.register_blueprint(module.bp)
    _register_error_pages(app)


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


def _register_error_pages(app: Flask) -> None:
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
