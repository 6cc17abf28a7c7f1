"""Domain events → catalogue events: the one place product analytics are emitted.

Each domain signal (``app/events.py``) maps to one catalogue event and a function
that picks its allowlisted properties from the signal's arguments. Because services
announce and this module listens, an action reports the same event whether it came
from the web UI, the API or the CLI; ``source`` says which.
``tests/telemetry/test_event_coverage.py`` fails when a catalogue event has no
emitter here, or this table names an event the catalogue does not have.
"""

from __future__ import annotations

import logging
from typing import Any, Callable

from blinker import Signal
from flask import Flask

from .. import events

log = logging.getLogger("app.telemetry")

Properties = Callable[[dict[str, Any]], dict[str, Any] | None]


def _duration(entry) -> int:
    return int(entry.duration_seconds or 0)


def _when_turned_on(data: dict[str, Any]) -> dict[str, Any] | None:
    # Turning analytics off is never reported: after it, nothing may leave.
    return {"enabled": True} if data["enabled"] else None


# signal → properties from the signal's keyword arguments (None = skip); the event's name is
# the action's one name, events.NAMES[signal]
PROPERTIES: dict[Signal, Properties] = {
    events.signed_in: lambda d: {"method": d["method"]},
    events.sign_in_failed: lambda d: {"reason": d["reason"]},
    events.signed_out: lambda d: {},
    events.client_created: lambda d: {},
    events.project_created: lambda d: {
        "billable": bool(d["project"].billable), "has_client": d["project"].client_id is not None},
    events.task_created: lambda d: {},
    events.timer_started: lambda d: {"has_task": d["entry"].task_id is not None},
    events.timer_stopped: lambda d: {"duration_seconds": _duration(d["entry"])},
    events.entry_created: lambda d: {
        "duration_seconds": _duration(d["entry"]), "billable": bool(d["entry"].billable),
        "entry_source": "manual"},
    events.entry_updated: lambda d: {"duration_seconds": _duration(d["entry"])},
    events.entry_deleted: lambda d: {},
    events.report_viewed: lambda d: {
        "period_days": (d["report"].end - d["report"].start).days + 1,
        "row_count": len(d["report"].rows)},
    events.csv_exported: lambda d: {},
    events.api_token_created: lambda d: {},
    events.settings_updated: lambda d: {},
    events.analytics_consent_changed: _when_turned_on,
}
# signal → (catalogue event, properties)
EMITTERS: dict[Signal, tuple[str, Properties]] = {
    signal: (events.NAMES[signal], properties) for signal, properties in PROPERTIES.items()}

# Events the telemetry package emits itself, not from a domain signal.
SELF_EMITTED = frozenset({"page.viewed", "base_telemetry.first_seen", "base_telemetry.heartbeat"})


def _emitter(signal: Signal, name: str, properties: Properties):
    def receive(sender: Flask, *, actor=None, source: str = events.SOURCE_WEB, **data: Any) -> None:
        client = sender.extensions.get("telemetry")
        if client is None or client.consumer is None:
            return  # no sink: nothing is built
        props = properties(data)
        if props is None:
            return
        client.track(name, props, user_id=events.id_of(actor), source=source)

    receive.__name__ = f"telemetry_{signal.name}"
    return receive


_RECEIVERS = [(signal, _emitter(signal, name, properties))
              for signal, (name, properties) in EMITTERS.items()]


def _on_setup_completed(sender: Flask, *, allow_analytics: bool = False, **_data: Any) -> None:
    client = sender.extensions.get("telemetry")
    if client is None:
        return
    if allow_analytics:
        client.record_setup_consent()  # the wizard showed this catalogue
    client.invalidate()
    client.state()  # setup is in the row now: mirror it into installation.json at once
    client.send_due_base_events()


def connect() -> None:
    """Subscribe once per process (the receivers look up each app's client from the sender)."""
    for signal, receiver in _RECEIVERS:
        signal.connect(receiver, weak=False)
    events.setup_completed.connect(_on_setup_completed, weak=False)
