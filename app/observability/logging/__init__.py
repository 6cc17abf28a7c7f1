"""Structured JSON logs: one object per line, a request id on every line of a request.

Every line has ``timestamp`` (RFC 3339, UTC, milliseconds: ``2026-11-23T09:30:00.123Z``),
``level``, ``logger``, ``message`` and ``pid``; ``request_id`` inside a request; then
whatever context the call adds (``extra=...`` or :func:`log_event` fields). The format
is documented field by field in ``docs/observability.md``: Promtail parses it.

Lines go to stdout (containers) and to ``LOG_DIR/app.jsonl``. The file rotates by size
with :class:`SharedRotatingFileHandler`, which stays correct when several gunicorn
workers append to the same file (the docs say why the stdlib handler does not).

One module per job: ``ids`` (request ids), ``formatting`` (the line, redaction, SQL
scrubbing), ``events`` (:func:`log_event`), ``batching`` (the batched writes and their
flusher thread), ``handlers`` (stdout and the file), ``access`` (the access line and the
request hooks). Callers import from here.
"""

from __future__ import annotations

import logging
from pathlib import Path

import click
from flask import Flask
from flask.logging import default_handler

from .access import (
    ACCESS_LOGGER, duration_seconds, end_request, finish_request, request_started_at,
    route_template, start_request,
)
from .events import EVENTS_LOGGER, log_event
from .formatting import CORE_FIELDS, REDACTED, JsonLineFormatter, format_timestamp, scrub_database_values
from .handlers import LOG_FILE_NAME, SharedRotatingFileHandler, StdoutHandler
from .ids import REQUEST_ID_HEADER, current_request_id, is_sane_request_id, new_request_id

__all__ = [
    "ACCESS_LOGGER", "CORE_FIELDS", "EVENTS_LOGGER", "LOG_FILE_NAME", "REDACTED",
    "REQUEST_ID_HEADER", "JsonLineFormatter", "SharedRotatingFileHandler", "StdoutHandler",
    "current_request_id", "duration_seconds", "format_timestamp", "init_app",
    "is_sane_request_id", "log_event", "new_request_id", "request_started_at",
    "route_template", "scrub_database_values",
]


def init_app(app: Flask) -> None:
    """Send the app's log lines as JSON to stdout and ``LOG_DIR/app.jsonl``; add request ids.

    Logging is process-wide: the handlers of an app built earlier in the same
    process are replaced (one app per process in production; tests build many).
    """
    _configure_handlers(app)
    # First among the before_request hooks (the limiter and the setup guard are
    # registered earlier): a request they refuse still gets an id and a duration.
    app.before_request_funcs.setdefault(None, []).insert(0, start_request)
    app.after_request(finish_request)
    app.teardown_request(end_request)


def _configure_handlers(app: Flask) -> None:
    logger = app.logger
    logger.setLevel(app.config["LOG_LEVEL"])
    logger.removeHandler(default_handler)
    for handler in list(logger.handlers):
        if getattr(handler, "tt_observability", False):
            logger.removeHandler(handler)
            handler.close()
    formatter = JsonLineFormatter()
    # The flask CLI builds the app inside its click context; gunicorn does not. A command's
    # console shows warnings and errors only (the file keeps every line): its own answer
    # is what the operator reads.
    cli_process = click.get_current_context(silent=True) is not None
    flush_seconds = app.config["LOG_FLUSH_SECONDS"]
    console = StdoutHandler(cli_process=cli_process, flush_seconds=flush_seconds)
    if cli_process:
        console.setLevel(logging.WARNING)
    handlers: list[logging.Handler] = [console]
    log_dir = app.config.get("LOG_DIR")
    if log_dir:
        Path(log_dir).mkdir(parents=True, exist_ok=True)
        handlers.append(SharedRotatingFileHandler(
            Path(log_dir) / LOG_FILE_NAME,
            max_bytes=app.config["LOG_MAX_BYTES"],
            backup_count=app.config["LOG_BACKUP_COUNT"],
            flush_seconds=flush_seconds,
        ))
    for handler in handlers:
        handler.tt_observability = True
        handler.setFormatter(formatter)
        logger.addHandler(handler)
