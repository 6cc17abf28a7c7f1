"""Domain events: what happened, announced by the services that made it happen.

Services call :func:`announce` right after their change is committed; they know
nothing of who listens. Telemetry, the business metrics and the event log
subscribe in their own ``init_app`` (``app/telemetry/subscribers.py``,
``app/observability/domain.py``), so the web UI, the API and the CLI report the
same action the same way by construction.

Signals are blinker's (Flask's own dependency). The sender is the current app,
so a subscriber finds its per-app state in ``sender.extensions`` and several apps
in one process (tests) never see each other's events. Every signal carries the
acting user (``actor``, a ``User`` or None) and ``source`` (web, api or cli).
"""

from __future__ import annotations

from contextvars import ContextVar, Token
from typing import Any

from blinker import Namespace, Signal
from flask import current_app
from sqlalchemy import inspect as sa_inspect

SOURCE_WEB = "web"
SOURCE_API = "api"
SOURCE_CLI = "cli"
SOURCES = (SOURCE_WEB, SOURCE_API, SOURCE_CLI)

_signals = Namespace()

# Each signal's keyword arguments, besides ``actor`` and ``source``, are listed
# after it; the subscribers read nothing else.
signed_in = _signals.signal("signed_in")  # user, method: password | oidc
sign_in_failed = _signals.signal("sign_in_failed")  # reason: bad_credentials | inactive | other
signed_out = _signals.signal("signed_out")
setup_completed = _signals.signal("setup_completed")  # allow_analytics: bool
settings_updated = _signals.signal("settings_updated")  # settings
analytics_consent_changed = _signals.signal("analytics_consent_changed")  # enabled: bool
client_created = _signals.signal("client_created")  # client
project_created = _signals.signal("project_created")  # project
task_created = _signals.signal("task_created")  # task
timer_started = _signals.signal("timer_started")  # entry
timer_stopped = _signals.signal("timer_stopped")  # entry
entry_created = _signals.signal("entry_created")  # entry (manual)
entry_updated = _signals.signal("entry_updated")  # entry
entry_deleted = _signals.signal("entry_deleted")  # entry_id
report_viewed = _signals.signal("report_viewed")  # report, group_by
csv_exported = _signals.signal("csv_exported")  # filters
api_token_created = _signals.signal("api_token_created")  # token

ALL: tuple[Signal, ...] = (
    signed_in, sign_in_failed, signed_out, setup_completed, settings_updated,
    analytics_consent_changed, client_created, project_created, task_created, timer_started,
    timer_stopped, entry_created, entry_updated, entry_deleted, report_viewed, csv_exported,
    api_token_created,
)

# Each action's one name: the telemetry catalogue's event name, and the message of its
# event-log line, so grepping the logs for a catalogue name finds the action.
# setup.completed has no analytics event (the wizard records consent instead).
NAMES: dict[Signal, str] = {
    signed_in: "auth.login", sign_in_failed: "auth.login_failed", signed_out: "auth.logout",
    setup_completed: "setup.completed", settings_updated: "settings.updated",
    analytics_consent_changed: "telemetry.preference_changed", client_created: "client.created",
    project_created: "project.created", task_created: "task.created",
    timer_started: "timer.started", timer_stopped: "timer.stopped",
    entry_created: "time_entry.created", entry_updated: "time_entry.updated",
    entry_deleted: "time_entry.deleted", report_viewed: "report.viewed",
    csv_exported: "export.csv", api_token_created: "api_token.created",
}

# Where the current action came from. The HTTP layer sets it per request (web or
# api); anything outside a request (a flask command) is the CLI.
_source: ContextVar[str] = ContextVar("timetracker_event_source", default=SOURCE_CLI)


def set_source(source: str) -> Token:
    """Mark what follows in this context as coming from ``source``; returns the reset token."""
    if source not in SOURCES:
        raise ValueError(f"unknown source {source!r}")
    return _source.set(source)


def reset_source(token: Token) -> None:
    _source.reset(token)


def announce(signal: Signal, *, actor: Any = None, **data: Any) -> None:
    """Tell every subscriber of ``signal`` what happened (after the change is committed).

    Subscribers must not raise (telemetry and metrics never get in the way), so a
    failure there is theirs to log; this call returns nothing and waits for nothing
    slow: a subscriber at most appends to a queue.
    """
    signal.send(current_app._get_current_object(), actor=actor, source=_source.get(), **data)


def id_of(obj: Any) -> Any:
    """The database id of a model an event carries (None for None), read from its identity
    key: after the service's commit every attribute is expired, and reading ``obj.id``
    would cost a SELECT per event."""
    if obj is None:
        return None
    state = sa_inspect(obj, raiseerr=False)
    if state is not None and state.identity:
        return state.identity[0]
    return getattr(obj, "id", None)
