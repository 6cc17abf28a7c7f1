"""A domain event's log line carries the action's one name, the catalogue's event name."""

from __future__ import annotations

from app import events
from app.telemetry.catalogue import EVENTS
from app.telemetry.subscribers import EMITTERS

from .conftest import read_log_lines


def test_every_signal_has_one_name_and_telemetry_uses_it():
    assert set(events.NAMES) == set(events.ALL)
    assert {name for name, _ in EMITTERS.values()} <= set(EVENTS)
    assert all(events.NAMES[signal] == name for signal, (name, _) in EMITTERS.items())


def test_the_log_line_of_a_domain_event_is_its_catalogue_name(app, log_dir):
    with app.app_context():
        events.announce(events.entry_deleted, entry_id=5)
    (line,) = [line for line in read_log_lines(log_dir) if line.get("entry_id") == 5]
    assert line["message"] == "time_entry.deleted" == line["event"]
    assert line["logger"] == "app.events"
