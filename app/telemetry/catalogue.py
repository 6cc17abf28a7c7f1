"""The event catalogue: every event that may leave the process, and its typed properties.

An explicit allowlist (GitLab Service Ping's metric definitions, not a clever PII
filter): an unknown event, or a property not declared here, is dropped and
counted, and raises under tests. Values are typed and bounded: booleans, enums,
counts, durations and URL-rule templates. There is deliberately no free-text
type, so names, notes, emails, usernames, IPs, user agents and URLs with ids
have no way in. ``docs/events.md`` is generated from this module
(``python -m app.telemetry.docs``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Mapping

LAYER_BASE = "base"
LAYER_ANALYTICS = "analytics"


class CatalogueViolation(ValueError):
    """An event or property that the catalogue does not allow."""


@dataclass(frozen=True)
class Prop:
    """One allowed property: a type name, a description, and the bounds of its values."""

    kind: str  # bool | enum | count | duration | route | id | version | text_enum
    description: str
    values: tuple[str, ...] = ()
    maximum: float | None = None

    def check(self, name: str, value: Any) -> Any:
        """Return the value if it conforms, else raise :class:`CatalogueViolation`."""
        if self.kind == "bool":
            if isinstance(value, bool):
                return value
        elif self.kind == "enum":
            if isinstance(value, str) and value in self.values:
                return value
        elif self.kind in ("count", "id"):
            if isinstance(value, int) and not isinstance(value, bool) and value >= 0 \
                    and (self.maximum is None or value <= self.maximum):
                return value
        elif self.kind == "duration":
            if isinstance(value, (int, float)) and not isinstance(value, bool) \
                    and 0 <= value <= (self.maximum or 366 * 86400):
                return int(value)
        elif self.kind == "route":
            if isinstance(value, str) and _ROUTE.fullmatch(value):
                return value
        elif self.kind == "pseudonym":
            # An HMAC of an internal id, never the id itself (client.pseudonymous_id).
            if isinstance(value, str) and _PSEUDONYM.fullmatch(value):
                return value
        elif self.kind == "short":
            # Machine-made values only (versions, locales, time zones, UUIDs): no spaces, bounded.
            if isinstance(value, str) and _SHORT.fullmatch(value):
                return value
        raise CatalogueViolation(f"property {name!r} has a value outside its type ({self.kind})")


# A Flask URL rule: literal segments and <converter:name> placeholders, never a
# concrete id (all-digit segments are refused).
_ROUTE = re.compile(r"/(?:(?:[a-z0-9_.-]*[a-z_.-][a-z0-9_.-]*|<(?:\w+:)?\w+>)(?:/|$))*")
_SHORT = re.compile(r"[A-Za-z0-9_.+:/-]{1,64}")
_PSEUDONYM = re.compile(r"[0-9a-f]{16}")

SOURCES = ("web", "api", "cli")
BROWSER_FAMILIES = ("chrome", "firefox", "safari", "edge", "other", "none")
DEVICE_TYPES = ("desktop", "mobile", "tablet", "bot", "none")

# Version of the record layout below (resource attributes + per-event properties).
# 2: install, version and deployment moved from every record to the OTLP Resource.
SCHEMA_VERSION = "2"

# The OTLP Resource: said once per export batch, not on every record. The SDK's own
# defaults and OTEL_RESOURCE_ATTRIBUTES are not merged in: only these leave.
RESOURCE_ATTRIBUTES: dict[str, Prop] = {
    "service.name": Prop("enum", "Always timetracker.", ("timetracker",)),
    "service.version": Prop("short", "TimeTracker version (APP_VERSION)."),
    "service.instance.id": Prop("short", "Random UUID4 per process, new at every start "
                                         "(never the host name)."),
    "os.type": Prop("enum", "Operating system family.", ("linux", "darwin", "windows", "other")),
    "host.arch": Prop("short", "CPU architecture, OpenTelemetry semconv value (amd64, arm64...)."),
    "timetracker.install_id": Prop("short", "Random UUID4 of this installation (kept in the "
                                            "database, mirrored in installation.json)."),
    "timetracker.deployment_type": Prop("enum", "How TimeTracker runs.", ("docker", "native")),
    "timetracker.release_channel": Prop("enum", "RELEASE_CHANNEL.", ("stable", "beta", "dev")),
    "timetracker.schema_version": Prop("enum", "Version of this record layout.",
                                       (SCHEMA_VERSION,)),
}

# Added by the telemetry client to every analytics event; callers never pass these.
CONTEXT_PROPERTIES: dict[str, Prop] = {
    "user_id": Prop("pseudonym", "Pseudonymous id of the acting user: HMAC-SHA256 of the internal "
                                 "id, keyed by a secret of this install that never leaves it, cut "
                                 "to 16 hex characters. Stable per user within one install, "
                                 "unrelated across installs; the internal id is never sent."),
    "browser_family": Prop("enum", "Browser family from the User-Agent (the header itself is "
                                   "never sent); web requests only.", BROWSER_FAMILIES),
    "device_type": Prop("enum", "Device class from the User-Agent; web requests only.",
                        DEVICE_TYPES),
}
SOURCE = Prop("enum", "Where the action came from.", SOURCES)


@dataclass(frozen=True)
class Event:
    name: str
    description: str
    layer: str = LAYER_ANALYTICS
    properties: Mapping[str, Prop] = field(default_factory=dict)


def _event(name: str, description: str, **properties: Prop) -> Event:
    return Event(name, description, LAYER_ANALYTICS, {"source": SOURCE, **properties})


_DURATION = Prop("duration", "Length of the time entry in whole seconds.")
_BILLABLE = Prop("bool", "Whether the entry or project is billable.")
_ENTRY_SOURCE = Prop("enum", "How the entry was made.", ("timer", "manual"))

_BASE_PROPERTIES: dict[str, Prop] = {
    "platform": Prop("enum", "Operating system family.", ("linux", "darwin", "windows", "other")),
    "os_version": Prop("short", "Operating system release (kernel version on Linux)."),
    "architecture": Prop("short", "CPU architecture, OpenTelemetry semconv value (amd64, arm64...)."),
    "locale": Prop("short", "Server locale (language_TERRITORY), or C."),
    "timezone": Prop("short", "The install's default time zone (Admin → Settings)."),
    "first_seen_at": Prop("short", "When first_seen was sent (RFC 3339, UTC); this moment "
                                   "for first_seen itself."),
    "last_seen_at": Prop("short", "When this event was built (RFC 3339, UTC)."),
    "heartbeat_at": Prop("short", "The moment this heartbeat is for (RFC 3339, UTC); heartbeat only."),
}

EVENTS: dict[str, Event] = {
    e.name: e
    for e in [
        Event("base_telemetry.first_seen", "Sent once per installation, ever, after setup "
              "(marked sent only once the receiver acknowledged it).",
              LAYER_BASE, _BASE_PROPERTIES),
        Event("base_telemetry.heartbeat", "Sent once per installation per UTC day, from 03:00 "
              "UTC (marked sent only once the receiver acknowledged it).",
              LAYER_BASE, _BASE_PROPERTIES),
        _event("auth.login", "A user signed in.",
               method=Prop("enum", "How they signed in.", ("password", "oidc"))),
        _event("auth.logout", "A user signed out."),
        _event("auth.login_failed", "A sign-in was refused (nothing typed is sent).",
               reason=Prop("enum", "Why.", ("bad_credentials", "inactive", "throttled", "other"))),
        _event("timer.started", "A timer was started.",
               has_task=Prop("bool", "Whether a task was chosen.")),
        _event("timer.stopped", "A running timer was stopped.", duration_seconds=_DURATION),
        _event("project.created", "A project was created.", billable=_BILLABLE,
               has_client=Prop("bool", "Whether the project belongs to a client.")),
        _event("client.created", "A client was created."),
        _event("task.created", "A task was created."),
        _event("time_entry.created", "A time entry was created by hand.",
               duration_seconds=_DURATION, billable=_BILLABLE, entry_source=_ENTRY_SOURCE),
        _event("time_entry.updated", "A time entry was edited.", duration_seconds=_DURATION),
        _event("time_entry.deleted", "A time entry was deleted."),
        _event("report.viewed", "A report was opened.",
               period_days=Prop("count", "Length of the reported period in days.", maximum=3660),
               row_count=Prop("count", "Number of rows shown.", maximum=10**7)),
        _event("export.csv", "Time entries were exported as CSV (streamed: no row count)."),
        _event("api_token.created", "A personal API token was created."),
        _event("settings.updated", "An admin saved Admin → Settings."),
        _event("telemetry.preference_changed", "An admin turned detailed analytics on, from "
               "any place (setup excepted): a turn off is never sent.",
               enabled=Prop("bool", "The new choice.")),
        _event("page.viewed", "A page was rendered (route template only, never the URL).",
               route=Prop("route", "The Flask URL rule, e.g. /entries/<int:entry_id>/edit."),
               status_class=Prop("enum", "HTTP status class.", ("2xx", "3xx", "4xx", "5xx"))),
    ]
}


def validate(name: str, properties: Mapping[str, Any]) -> tuple[Event, dict[str, Any]]:
    """Check an event against the catalogue; return it and its cleaned properties.

    Raises :class:`CatalogueViolation` for an unknown event, an undeclared property
    or a value outside its type. Context properties are checked by the client.
    """
    event = EVENTS.get(name)
    if event is None:
        raise CatalogueViolation(f"unknown event {name!r}")
    cleaned: dict[str, Any] = {}
    for key, value in properties.items():
        prop = event.properties.get(key)
        if prop is None:
            raise CatalogueViolation(f"property {key!r} is not in the catalogue for {name!r}")
        cleaned[key] = prop.check(key, value)
    return event, cleaned


def validate_resource(attributes: Mapping[str, Any]) -> dict[str, Any]:
    """Check the OTLP Resource attributes against :data:`RESOURCE_ATTRIBUTES`."""
    cleaned = {}
    for key, value in attributes.items():
        prop = RESOURCE_ATTRIBUTES.get(key)
        if prop is None:
            raise CatalogueViolation(f"resource attribute {key!r} is not in the catalogue")
        cleaned[key] = prop.check(key, value)
    return cleaned


# -- versions: what consent was given for --------------------------------------


def _layer_shape(layer: str) -> dict[str, dict[str, list]]:
    """Each event of ``layer`` with its properties' names, types and allowed values."""
    return {event.name: {name: [prop.kind, list(prop.values), prop.maximum]
                         for name, prop in sorted(event.properties.items())}
            for event in sorted(EVENTS.values(), key=lambda e: e.name) if event.layer == layer}


def detailed_shape() -> dict[str, list[str]]:
    """What detailed analytics may send: each event and its property names (context included).

    Stored with an admin's consent, so a later catalogue can show what changed since.
    """
    context = sorted(CONTEXT_PROPERTIES)
    return {name: sorted([*props, *context]) for name, props in _layer_shape(LAYER_ANALYTICS).items()}


def _digest(value: Any) -> str:
    import hashlib
    import json

    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:12]


def catalogue_version() -> str:
    """The version of the detailed layer: a hash of its events, their properties and types,
    the context every event carries, and the Resource. Consent is given for one version;
    a catalogue that sends more (or other) pauses detailed analytics until an admin accepts."""
    return _digest({"events": _layer_shape(LAYER_ANALYTICS),
                    "context": {k: [p.kind, list(p.values)] for k, p in CONTEXT_PROPERTIES.items()},
                    "resource": sorted(RESOURCE_ATTRIBUTES)})


def base_version() -> str:
    """A hash of the base layer (its events, properties and the Resource); the newest entry
    of :data:`BASE_CHANGELOG` names it, so a change cannot ship without a changelog line."""
    return _digest({"events": _layer_shape(LAYER_BASE), "resource": sorted(RESOURCE_ATTRIBUTES)})


def shape_difference(old: dict[str, list[str]], new: dict[str, list[str]]) -> dict[str, Any]:
    """What changed between two :func:`detailed_shape` values (for the admin page)."""
    added = sorted(set(new) - set(old))
    removed = sorted(set(old) - set(new))
    changed = {name: {"added": sorted(set(new[name]) - set(old[name])),
                      "removed": sorted(set(old[name]) - set(new[name]))}
               for name in sorted(set(old) & set(new)) if set(old[name]) != set(new[name])}
    return {"added_events": added, "removed_events": removed, "changed_events": changed}


# Base-layer changes, newest last: (date, base_version(), what changed). The base layer is
# sent without an opt-in, so every change to it is listed here and in docs/events.md;
# tests/telemetry/test_docs.py fails when base_version() is not the newest entry's.
BASE_CHANGELOG: tuple[tuple[str, str, str], ...] = (
    ("2026-11-23", "before-versioning", "first_seen and heartbeat introduced (schema 1: install id, version and "
                       "deployment type on every record)."),
    ("2026-12-02", "8a677a5bb780", "schema 2: install id, app version, deployment type and release channel "
                       "move to the OTLP Resource (with service.instance.id, os.type, host.arch "
                       "and timetracker.schema_version); first_seen and heartbeat are recorded as "
                       "sent only once the receiver acknowledged them."),
)


# -- example values: what the admin sees before opting in -----------------------

# A pseudonym that reads as a placeholder: examples are built before anyone opts in and
# shown to every admin, so they must not carry any real user's pseudonym.
EXAMPLE_PSEUDONYM = "0123456789abcdef"
_EXAMPLES = {"bool": True, "count": 3, "duration": 5400, "route": "/entries/<int:entry_id>/edit",
             "short": "example", "pseudonym": EXAMPLE_PSEUDONYM}


def example_value(prop: Prop) -> Any:
    """A value of ``prop``'s type, for previews (checked like a real one)."""
    if prop.values:
        return prop.values[0]
    if prop.kind == "id":
        return 42
    return _EXAMPLES[prop.kind]


def example_properties(name: str) -> dict[str, Any]:
    """Example properties of event ``name`` (``source`` excepted: the caller picks it)."""
    return {key: example_value(prop) for key, prop in EVENTS[name].properties.items()
            if key != "source"}
