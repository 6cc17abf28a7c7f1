"""Domain events → the business metrics and the event log (``log_event``).

Services announce what happened (``app/events.py``); this module listens, so a
time entry is counted the same whether it came from the web UI, the API or the CLI.
Each event becomes one ``domain.<event>`` log line with ids and the source only:
never names, notes or anything a user typed.
"""

from __future__ import annotations

from typing import Any

from blinker import Signal
from flask import Flask

from .. import events
from .logging import log_event


def _ids(data: dict[str, Any]) -> dict[str, Any]:
    """The ids an event's objects carry (never their names or notes)."""
    fields: dict[str, Any] = {}
    for key in ("entry", "client", "project", "task", "token"):
        obj = data.get(key)
        if obj is not None:
            fields[f"{key}_id"] = events.id_of(obj)
    for key in ("entry_id", "method", "reason", "enabled", "allow_analytics"):
        if key in data:
            fields[key] = data[key]
    return fields


def _receiver(signal: Signal):
    name = events.NAMES[signal]

    def receive(sender: Flask, *, actor=None, source: str = events.SOURCE_WEB, **data: Any) -> None:
        log_event(name, source=source,
                  user_id=events.id_of(actor), **_ids(data))

    receive.__name__ = f"log_{signal.name}"
    return receive


def _count_entry(source: str):
    def receive(sender: Flask, **_data: Any) -> None:
        from .metrics import EXTENSION_KEY

        metrics = sender.extensions.get(EXTENSION_KEY)
        if metrics is not None:
            metrics.time_entries_created_total.labels(source=source).inc()

    receive.__name__ = f"count_entry_{source}"
    return receive


_LOG_RECEIVERS = [(signal, _receiver(signal)) for signal in events.ALL]
_METRIC_RECEIVERS = [(events.timer_started, _count_entry("timer")),
                     (events.entry_created, _count_entry("manual"))]


def init_app(app: Flask) -> None:
    """Subscribe once per process; each receiver finds its app's state from the sender."""
    for signal, receiver in (*_LOG_RECEIVERS, *_METRIC_RECEIVERS):
        signal.connect(receiver, weak=False)
