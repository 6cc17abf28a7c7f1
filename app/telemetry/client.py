"""The telemetry client: the one object the app, the admin page, the API and the CLI use.

``app.extensions['telemetry']`` holds one :class:`TelemetryClient` per app (the shape
of posthog-python's ``Client``): ``track``, ``status``, ``set_consent``, ``preview``,
``send_due_base_events``, ``flush`` and ``shutdown``. Every event passes, in order:
kill switch (no event is built) → a sink exists → the catalogue allows it → setup is
complete and, for detailed analytics, an admin opted in → the bounded queue. The
consumer thread checks consent again right before each export.

Install state and consent come from the settings row (``store.py``, the one owner),
read at most once a second per process on the hot path (``CONSENT_RECHECK_SECONDS``)
and mirrored into ``installation.json`` whenever the check finds the file out of
step; a lost or corrupt file is rebuilt from the row with the same install id and
choice, and the admin page says so. Nothing here raises into a request, except a
catalogue violation under tests, which is a programming error we want to see.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any, Callable

from flask import Flask, has_request_context, request
from sqlalchemy import Engine

from .. import events
from ..observability.urls import mask_url_credentials
from . import catalogue, context, store
from . import outbox as outbox_module
from .catalogue import LAYER_ANALYTICS, LAYER_BASE, CatalogueViolation
from .consumer import Consumer, payload_dict
from .installation import Installation, InstallationWriteError, InstallState, isoformat
from .metrics import TelemetryMetrics

log = logging.getLogger("app.telemetry")

EXTENSION_KEY = "telemetry"
HEARTBEAT_HOUR_UTC = 3
FIRST_SEEN = "base_telemetry.first_seen"
HEARTBEAT = "base_telemetry.heartbeat"
# How stale the hot path's view of consent may be in another process or replica. The
# consumer re-reads it before every export, so an opt-out still stops every record
# not yet sent.
CONSENT_RECHECK_SECONDS = 1.0
# How long a process may hold the right to send a base event before another may try.
# Longer than one export can take (the exporter's timeout, a few seconds).
BASE_LEASE = timedelta(seconds=60)
_NOT_SET_UP = InstallState(install_id="")


# The one message of each refused opt-in, shown by the settings page, the API and the CLI.
CATALOGUE_NOT_SHOWN = ("Detailed analytics is paused: the event catalogue changed since the "
                       "opt-in. Read the changes on Admin → Telemetry and accept them there; "
                       "the analytics choice was not changed.")
STALE_CATALOGUE = ("The event catalogue changed since that page was read (it is now {version}): "
                   "reload it and read the changes first; the analytics choice was not changed.")


class ConsentRefused(ValueError):
    """An opt-in that would accept a catalogue its caller did not show (or a stale one)."""


@dataclass(frozen=True)
class LayerState:
    enabled: bool
    reason: str


def kill_switch_reason(config) -> str | None:
    """Which kill switch is on, if any: they beat every stored choice."""
    if config.get("DO_NOT_TRACK"):
        return "DO_NOT_TRACK is set"
    if config.get("TELEMETRY_DISABLED"):
        return "TELEMETRY_DISABLED is set"
    return None


def consent_given(state: InstallState, catalogue_version: str) -> bool:
    """Detailed analytics may leave: an install id, setup done, and an admin opted in to this
    very catalogue (an opt-in given for another version counts as not asked)."""
    return bool(state.install_id) and state.setup_complete and state.telemetry_enabled is True \
        and state.consented_catalogue_version == catalogue_version


class TelemetryClient:
    """Telemetry for one app (see the module docstring)."""

    def __init__(self, app: Flask, *, engine: Engine, installation: Installation,
                 metrics: TelemetryMetrics, exporter, kill_switch: str | None,
                 strict: bool) -> None:
        self.app = app
        self.installation = installation
        self.metrics = metrics
        self.kill_switch = kill_switch
        self.strict = strict
        self.deployment_type = context.deployment_type(app.config)
        # Computed per client (not per import) so a test app can run a changed catalogue.
        self.catalogue_version = catalogue.catalogue_version()
        self._engine = engine
        self._pseudonym_key: bytes | None = None
        self._snapshot: tuple[InstallState, float] | None = None
        self._refresh_lock = threading.Lock()
        self._mirror_warned: str | None = None
        self._resource_cache: tuple[str, Any] | None = None
        self.consumer: Consumer | None = None
        if exporter is not None and kill_switch is None:
            config = app.config
            self.consumer = Consumer(
                exporter, metrics=metrics, resource=self._resource, may_export=self._may_export,
                on_sent=self._record_sent,
                max_queue_size=int(config.get("TELEMETRY_QUEUE_SIZE", 1000)),
                batch_delay_seconds=float(config["TELEMETRY_BATCH_DELAY_MS"]) / 1000,
                sent_kept=outbox_module.OUTBOX_ROWS_PER_BATCH,
            )

    # -- the install state ---------------------------------------------------------

    def state(self, max_age_seconds: float = 0.0) -> InstallState:
        """The install state from the settings row, at most ``max_age_seconds`` old."""
        snapshot = self._snapshot
        if snapshot is not None and max_age_seconds > 0 \
                and time.monotonic() - snapshot[1] < max_age_seconds:
            return snapshot[0]
        # One thread per process re-reads; the others keep going on the last view.
        if snapshot is not None and max_age_seconds > 0:
            if not self._refresh_lock.acquire(blocking=False):
                return snapshot[0]
        else:
            self._refresh_lock.acquire()
        try:
            return self._refresh()
        finally:
            self._refresh_lock.release()

    def _refresh(self) -> InstallState:
        try:
            row = store.load(self._engine)
            created = False
            if row is not None and not row.install_id and self.kill_switch is None:
                created = store.adopt_or_create_install_id(self._engine, self.installation.read())
                row = store.load(self._engine)
        except store.StoreUnavailable as exc:
            # No database (yet): fall back to the mirror, which says what the row last said.
            log.debug("telemetry.store_unavailable", extra={"problem": str(exc)})
            state = self.installation.read()
            state = state if state.problem is None else _NOT_SET_UP
        else:
            state = row if row is not None else _NOT_SET_UP
            if state.install_id and self.kill_switch is None:
                self._mirror(state, created)
        self._snapshot = (state, time.monotonic())
        return state

    def _mirror(self, state: InstallState, created: bool) -> None:
        """Bring installation.json in step with the row; a lost or broken file is rebuilt."""
        on_disk = self.installation.read()
        if on_disk.problem is None and on_disk == state:
            return
        note = None
        if on_disk.problem is not None and not created:
            # A missing file may be a new data folder (another replica, a new volume) as
            # well as a deleted one: the note says what was seen, not a guess.
            note = (f"{isoformat(datetime.now(timezone.utc))}: rebuilt from the database "
                    f"({on_disk.problem}); install id and consent kept")
        elif on_disk.problem is None and on_disk.install_id != state.install_id:
            note = (f"{isoformat(datetime.now(timezone.utc))}: the file named another install id; "
                    f"rewritten from the database")
        try:
            self.installation.mirror(state, repaired=note)
        except InstallationWriteError as exc:
            if self._mirror_warned != str(exc):
                log.warning("telemetry.installation_file_unwritable", extra={"problem": str(exc)})
                self._mirror_warned = str(exc)
            return
        self._mirror_warned = None
        if note:
            # A corrupt file is somebody's problem; a missing one is also what every new
            # replica or volume starts with, so that is said without a warning.
            level = logging.INFO if "does not exist" in (on_disk.problem or "") else logging.WARNING
            log.log(level, "telemetry.installation_file_repaired", extra={"problem": note})

    def invalidate(self) -> None:
        """Forget the cached view: the next check reads the row (after a change in this process)."""
        self._snapshot = None

    # -- layer states ----------------------------------------------------------------

    def base_layer(self, state: InstallState | None = None) -> LayerState:
        """Whether base telemetry would be sent now, and why (or why not)."""
        if self.kill_switch:
            return LayerState(False, f"off: {self.kill_switch}")
        if self.consumer is None:
            return LayerState(False, "off: nothing is sent: no endpoint is configured "
                                     "(GRAFANA_OTLP_ENDPOINT is not set)")
        if not (state or self.state()).setup_complete:
            return LayerState(False, "off: setup is not complete")
        if self.consumer.exporter.kind == "debug":
            return LayerState(True, "on: TELEMETRY_DEBUG writes payloads to the log, nothing is sent")
        return LayerState(True, f"on: sending to {mask_url_credentials(self.consumer.exporter.url)}")

    def analytics_layer(self, state: InstallState | None = None) -> LayerState:
        """Whether detailed analytics would be sent now, and why (or why not)."""
        state = state or self.state()  # one read of the row for both layers
        base = self.base_layer(state)
        if not base.enabled:
            return base
        if state.telemetry_enabled is None:
            return LayerState(False, "off: an admin has not been asked yet")
        if state.telemetry_enabled is False:
            return LayerState(False, f"off: opted out by {state.telemetry_changed_by} "
                                     f"at {state.telemetry_changed_at}")
        if state.consented_catalogue_version != self.catalogue_version:
            given_for = state.consented_catalogue_version or "an unversioned catalogue"
            return LayerState(False, "paused: the event catalogue changed since the opt-in "
                                     f"(given for {given_for}, now {self.catalogue_version}); "
                                     "an admin must accept the changes (Admin → Telemetry)")
        return LayerState(True, f"on: opted in by {state.telemetry_changed_by} "
                                f"at {state.telemetry_changed_at}")

    def is_detailed_analytics_enabled(self) -> bool:
        return self.analytics_layer().enabled

    def status(self) -> dict[str, Any]:
        """Everything the admin page, ``flask telemetry status`` and the API show."""
        state = self.state()
        on_disk = self.installation.read()
        base, analytics = self.base_layer(state), self.analytics_layer(state)
        return {
            "install_id": state.install_id or None,
            "detailed_analytics": state.telemetry_enabled,
            "analytics_consent_in_effect": self.consent_in_effect(state),
            "changed_by": state.telemetry_changed_by,
            "changed_at": state.telemetry_changed_at,
            "first_seen_sent_at": state.first_seen_sent_at,
            "last_heartbeat_day": state.last_heartbeat_day,
            "base": {"enabled": base.enabled, "reason": base.reason},
            "analytics": {"enabled": analytics.enabled, "reason": analytics.reason},
            "installation_file": {"path": str(self.installation.path),
                                  "problem": on_disk.problem,
                                  "repaired": on_disk.repaired if on_disk.problem is None else None},
            "queued": self.consumer.pending() if self.consumer is not None else 0,
            "catalogue_version": self.catalogue_version,
            "consented_catalogue_version": state.consented_catalogue_version,
            "catalogue_changes": self.catalogue_changes(state),
            "recipient": self.recipient(),
        }

    def catalogue_changes(self, state: InstallState | None = None) -> dict[str, Any] | None:
        """What the detailed layer sends beyond the opt-in (None: nothing to accept)."""
        state = state or self.state()
        if state.telemetry_enabled is not True \
                or state.consented_catalogue_version == self.catalogue_version:
            return None
        try:
            old = store.consented_shape(self._engine) or {}
        except store.StoreUnavailable:
            old = {}
        return catalogue.shape_difference(old, catalogue.detailed_shape())

    def recipient(self) -> dict[str, Any]:
        """Who receives what is sent, as the operator configured it (credentials never shown)."""
        config = self.app.config
        exporter = self.consumer.exporter if self.consumer is not None else None
        return {
            "endpoint": mask_url_credentials(exporter.url) if exporter and exporter.url else None,
            "debug": bool(exporter is not None and exporter.kind == "debug"),
            "name": config.get("TELEMETRY_RECIPIENT") or None,
            "retention_days": config.get("TELEMETRY_RETENTION_DAYS"),
            "privacy_url": config.get("TELEMETRY_PRIVACY_URL") or None,
            # Any HTTP receiver sees the address the export comes from; say so.
            "sees_source_address": bool(exporter is not None and exporter.kind == "otlp"),
        }

    def disclosure(self) -> dict[str, Any]:
        """The words of the wizard, the admin page and the CLI, built from the catalogue and
        the configuration: what each layer sends, to whom, or that nothing is sent."""
        base_event = catalogue.EVENTS[FIRST_SEEN]
        return {
            "sends": self.consumer is not None and self.kill_switch is None,
            "kill_switch": self.kill_switch,
            "base": self.base_layer(),
            "base_fields": [(name, prop.description) for name, prop in base_event.properties.items()],
            "resource_fields": [(name, prop.description)
                                for name, prop in catalogue.RESOURCE_ATTRIBUTES.items()],
            "detailed_events": sorted(name for name, event in catalogue.EVENTS.items()
                                      if event.layer == LAYER_ANALYTICS),
            "context_fields": [(name, prop.description)
                               for name, prop in catalogue.CONTEXT_PROPERTIES.items()],
            "recipient": self.recipient(),
        }

    # -- consent -----------------------------------------------------------------------

    def record_setup_consent(self) -> None:
        """The setup wizard's opt-in was given for this catalogue: record its version."""
        try:
            if store.record_setup_consent(self._engine, self.catalogue_version,
                                          catalogue.detailed_shape()):
                self.invalidate()
        except store.StoreUnavailable:
            log.warning("telemetry.consent_version_not_recorded", exc_info=True)

    def set_consent(self, enabled: bool, *, changed_by: str, actor=None,
                    shown_version: str | None = None) -> InstallState:
        """Set (never toggle) the detailed-analytics choice in the settings row.

        ``shown_version`` is the catalogue version whose changes the caller showed (Admin →
        Telemetry, the wizard, ``flask telemetry enable``, the API given the version): only
        such an opt-in accepts a catalogue newer than the stored opt-in. Without it an opt-in
        is a fresh one (from off or not asked); while an opt-in for another catalogue is
        stored it changes nothing and raises :class:`ConsentRefused` (see there), so no page
        that hides the changes can accept them. An opt-out is always taken.

        Every process sees it within ``CONSENT_RECHECK_SECONDS`` and this one at once;
        installation.json follows. The change is announced (``analytics_consent_changed``),
        so turning it on is reported the same from every place. Raises
        :class:`store.StoreUnavailable` when the database cannot take it.
        """
        value = bool(enabled)
        if value and shown_version is not None and shown_version != self.catalogue_version:
            raise ConsentRefused(STALE_CATALOGUE.format(version=self.catalogue_version))
        changed = store.set_consent(self._engine, value, changed_by,
                                    datetime.now(timezone.utc).replace(microsecond=0),
                                    version=self.catalogue_version,
                                    shape=catalogue.detailed_shape(),
                                    accept=shown_version is not None)
        self.invalidate()
        state = self.state()
        if changed:
            log.info("telemetry.preference_changed", extra={"enabled": value})
            events.announce(events.analytics_consent_changed, actor=actor, enabled=value)
        elif value and self.consent_paused(state):
            raise ConsentRefused(CATALOGUE_NOT_SHOWN)
        return state

    def consent_paused(self, state: InstallState | None = None) -> bool:
        """An admin opted in, but to another catalogue: nothing detailed leaves until an admin
        accepts this one where its changes are shown."""
        state = state or self.state()
        return state.telemetry_enabled is True \
            and state.consented_catalogue_version != self.catalogue_version

    def consent_in_effect(self, state: InstallState | None = None) -> bool:
        """The opt-in holds for this very catalogue (what a consent box shows as ticked)."""
        return consent_given(state or self.state(), self.catalogue_version)

    # -- detailed analytics --------------------------------------------------------------

    def track(self, name: str, properties: dict[str, Any] | None = None, *,
              user_id: int | None = None, source: str = events.SOURCE_WEB) -> bool:
        """Queue one catalogue event if detailed analytics is on; returns whether it was queued.

        Never raises, except :class:`CatalogueViolation` under tests (``TESTING``).
        """
        consumer = self.consumer
        if consumer is None:
            return False  # no event is built at all
        try:
            # Browser context belongs to web events only: an API client's User-Agent is a
            # script's, and the catalogue promises the context for web requests.
            web_request = source == events.SOURCE_WEB and has_request_context()
            attributes = self.analytics_attributes(
                name, properties, user_id=user_id, source=source,
                user_agent=request.headers.get("User-Agent", "") if web_request else None)
        except CatalogueViolation:
            self.metrics.count(LAYER_ANALYTICS, "filtered")
            if self.strict:
                raise
            log.warning("telemetry.catalogue_violation", extra={"event_name": name}, exc_info=True)
            return False
        if not consent_given(self.state(CONSENT_RECHECK_SECONDS), self.catalogue_version):
            self.metrics.count(LAYER_ANALYTICS, "filtered")
            return False
        return consumer.enqueue(LAYER_ANALYTICS, name, attributes)

    def analytics_attributes(self, name: str, properties: dict[str, Any] | None, *,
                             user_id: int | None, source: str,
                             user_agent: str | None) -> dict[str, Any]:
        """The exact attributes of one detailed event (real records and previews alike).

        Raises :class:`CatalogueViolation` for anything the catalogue does not allow.
        """
        event, cleaned = catalogue.validate(name, {**(properties or {}), "source": source})
        if event.layer != LAYER_ANALYTICS:
            raise CatalogueViolation(f"{name!r} is a base event: the client sends those itself")
        if user_id is not None:
            pseudonym = self.pseudonymous_id(user_id)
            if pseudonym is not None:
                cleaned["user_id"] = catalogue.CONTEXT_PROPERTIES["user_id"].check(
                    "user_id", pseudonym)
        if user_agent is not None:
            cleaned.update(_checked_agent_context(user_agent))
        return cleaned

    def pseudonymous_id(self, user_id: int) -> str | None:
        """HMAC-SHA256 of the internal id under this install's key, 16 hex characters.

        The key stays in the database; without it (database unavailable) no id is sent.
        """
        key = self._pseudonym_key
        if key is None:
            try:
                stored = store.pseudonym_key(self._engine)
            except store.StoreUnavailable:
                return None
            if not stored:
                return None
            key = self._pseudonym_key = stored.encode()
        return hmac.new(key, str(int(user_id)).encode(), hashlib.sha256).hexdigest()[:16]

    def example_payloads(self) -> list[dict[str, Any]]:
        """An example of every detailed event, built by the code that builds real records."""
        examples = []
        resource = self.resource_attributes()
        for name in sorted(n for n, e in catalogue.EVENTS.items() if e.layer == LAYER_ANALYTICS):
            attributes = self.analytics_attributes(
                name, catalogue.example_properties(name), user_id=None, source=events.SOURCE_WEB,
                user_agent=_EXAMPLE_USER_AGENT)
            # A sample pseudonym, never one derived from a real user (the page shows it to
            # every admin before anyone opts in).
            attributes["user_id"] = catalogue.CONTEXT_PROPERTIES["user_id"].check(
                "user_id", catalogue.EXAMPLE_PSEUDONYM)
            examples.append(payload_dict(name, LAYER_ANALYTICS, attributes, resource))
        return examples

    def analytics_allowed_now(self) -> bool:
        """The per-request fast check: a sink exists and consent holds (at most 1 s old)."""
        return self.consumer is not None and consent_given(self.state(CONSENT_RECHECK_SECONDS), self.catalogue_version)

    def _may_export(self, layer: str) -> bool:
        # In the consumer thread, right before an export: a fresh read of the row.
        if self.kill_switch:
            return False
        state = self.state()
        return state.setup_complete if layer == LAYER_BASE else consent_given(state, self.catalogue_version)

    # -- base telemetry --------------------------------------------------------------------

    def send_due_base_events(self, now: datetime | None = None) -> list[str]:
        """Queue first_seen if it was never acknowledged, else today's heartbeat if due.

        Called at start, by the scheduler every ``TELEMETRY_BASE_INTERVAL_SECONDS`` and
        after setup. A lease in the row lets one process of many send; the delivery is
        recorded when the receiver acknowledged it, and a failure gives the lease back,
        so the next call tries again. Returns the names queued by this call.
        """
        if self.consumer is None:
            return []
        now = now or datetime.now(timezone.utc)
        try:
            state = self.state()
            if not state.setup_complete or not state.install_id:
                return []
            if not state.first_seen_sent_at:
                until = store.claim_first_seen(self._engine, now, BASE_LEASE)
                sent = until is not None and self._queue_base(
                    FIRST_SEEN, state, now, until,
                    confirm=lambda: store.confirm_first_seen(self._engine, now),
                    release=lambda: store.release_first_seen(self._engine, until))
                return [FIRST_SEEN] if sent else []
            day = now.astimezone(timezone.utc).date()
            if not _heartbeat_due(state, day, now):
                return []
            until = store.claim_heartbeat(self._engine, day, now, BASE_LEASE)
            sent = until is not None and self._queue_base(
                HEARTBEAT, state, now, until,
                confirm=lambda: store.confirm_heartbeat(self._engine, day, now),
                release=lambda: store.release_heartbeat(self._engine, until))
            return [HEARTBEAT] if sent else []
        except store.StoreUnavailable:
            log.warning("telemetry.base_state_unavailable", exc_info=True)
            return []

    def _queue_base(self, name: str, state: InstallState, now: datetime, until: datetime, *,
                    confirm: Callable[[], None], release: Callable[[], None]) -> bool:
        def on_result(acknowledged: bool) -> None:
            try:
                (confirm if acknowledged else release)()
            finally:
                self.invalidate()

        try:
            payload = self.base_payload(name, state, now)
        except CatalogueViolation:
            release()
            self.metrics.count(LAYER_BASE, "filtered")
            if self.strict:
                raise
            return False
        if not self.consumer.enqueue(LAYER_BASE, name, payload, on_result):
            release()
            return False
        return True

    def base_payload(self, name: str, state: InstallState, now: datetime) -> dict[str, Any]:
        """The exact attributes of a base event (also shown as the next heartbeat)."""
        attributes = {
            "platform": context.os_type(),
            "os_version": context.os_version(),
            "architecture": context.host_arch(),
            "locale": context.server_locale(),
            "timezone": self._install_timezone(),
            "first_seen_at": state.first_seen_sent_at or isoformat(now),
            "last_seen_at": isoformat(now),
        }
        if name == HEARTBEAT:
            attributes["heartbeat_at"] = isoformat(now)
        return catalogue.validate(name, attributes)[1]

    def _install_timezone(self) -> str:
        try:
            return context.short(store.default_timezone(self._engine) or "UTC")
        except store.StoreUnavailable:
            return "UTC"

    def preview(self, now: datetime | None = None) -> dict[str, Any]:
        """The exact payload of the next heartbeat (what the admin page shows)."""
        now = now or datetime.now(timezone.utc)
        at = now.replace(hour=HEARTBEAT_HOUR_UTC, minute=0, second=0, microsecond=0)
        if at <= now:
            at += timedelta(days=1)
        state = self.state()
        return {"scheduled_at": isoformat(at),
                **payload_dict(HEARTBEAT, LAYER_BASE, self.base_payload(HEARTBEAT, state, at),
                               self.resource_attributes(state))}

    # -- export plumbing ---------------------------------------------------------------------

    def resource_attributes(self, state: InstallState | None = None) -> dict[str, Any]:
        """The OTLP Resource of this install: said once per batch (catalogue-checked)."""
        state = state or (self._snapshot[0] if self._snapshot else self.state())
        config = self.app.config
        return catalogue.validate_resource({
            "service.name": "timetracker",
            "service.version": config.get("APP_VERSION", "0.0.0"),
            "service.instance.id": _instance_id(),
            "os.type": context.os_type(),
            "host.arch": context.host_arch(),
            "timetracker.install_id": state.install_id or "unknown",
            "timetracker.deployment_type": self.deployment_type,
            "timetracker.release_channel": config.get("RELEASE_CHANNEL", "stable"),
            "timetracker.schema_version": catalogue.SCHEMA_VERSION,
        })

    def _resource(self):
        from opentelemetry.sdk.resources import Resource

        state = self.state()
        cached = self._resource_cache
        if cached is not None and cached[0] == state.install_id:
            return cached[1]
        # Resource(...) rather than Resource.create(...): no SDK defaults and no
        # OTEL_RESOURCE_ATTRIBUTES from the environment, only the catalogue's attributes.
        resource = Resource(self.resource_attributes(state))
        self._resource_cache = (state.install_id, resource)
        return resource

    def _record_sent(self, payloads: list[dict]) -> None:
        from . import outbox

        outbox.record_sent(self.app, payloads)

    def flush(self, timeout_seconds: float = 5.0) -> bool:
        """Wait (bounded) until everything queued was exported or failed."""
        return self.consumer.flush(timeout_seconds) if self.consumer is not None else True

    def shutdown(self, timeout_seconds: float = 3.0) -> None:
        """Flush (bounded) and stop the consumer thread; later events are dropped."""
        consumer = self.consumer
        if consumer is not None:
            consumer.shutdown(timeout_seconds)


def _heartbeat_due(state: InstallState, day: date, now: datetime) -> bool:
    if state.last_heartbeat_day and state.last_heartbeat_day >= day.isoformat():
        return False
    return now.astimezone(timezone.utc).hour >= HEARTBEAT_HOUR_UTC


_AGENT_CACHE: dict[str, dict[str, str]] = {}
_EXAMPLE_USER_AGENT = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
                       "Chrome/130.0 Safari/537.36")


def _checked_agent_context(user_agent: str) -> dict[str, str]:
    checked = _AGENT_CACHE.get(user_agent)
    if checked is None:
        checked = {key: catalogue.CONTEXT_PROPERTIES[key].check(key, value)
                   for key, value in context.agent_context(user_agent).items()}
        if len(_AGENT_CACHE) < 256:
            _AGENT_CACHE[user_agent] = checked
    return checked


_INSTANCE_IDS: dict[int, str] = {}


def _instance_id() -> str:
    """Random per process (a forked child gets its own): never the host name, which changes
    with every container."""
    import os
    import uuid

    return _INSTANCE_IDS.setdefault(os.getpid(), str(uuid.uuid4()))
