"""The telemetry gate: the only door between the app and the sink.

Routes call ``track_event`` / ``track_page_view`` / ``identify_user`` (re-exported
by ``app``); the scheduler calls ``send_base_heartbeat``; setup calls
``on_setup_completed``. Each event passes, in order: kill switch (no event is
built) → sink present → setup complete → consent (detailed analytics only) →
catalogue check → bounded queue. Nothing here raises into a request, except a
catalogue violation under tests, which is a programming error we want to see.
"""

from __future__ import annotations

import atexit
import functools
import locale
import logging
import platform
import threading
import weakref
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Any, Mapping

from flask import Flask, current_app, has_app_context, has_request_context, request

from . import catalogue
from .catalogue import LAYER_ANALYTICS, LAYER_BASE, CatalogueViolation
from .installation import Installation, InstallationWriteError, InstallState, isoformat
from .metrics import TelemetryMetrics
from .sink import Sink, host_arch, os_type

EXTENSION_KEY = "telemetry"
HEARTBEAT_HOUR_UTC = 3
# How stale the per-event consent check may be in another worker. The sink re-reads
# consent before each export, so an opt-out still stops every record not yet sent.
CONSENT_RECHECK_SECONDS = 1.0
log = logging.getLogger("app.telemetry")

_live_states: "weakref.WeakSet[TelemetryState]" = weakref.WeakSet()


@dataclass(eq=False)
class TelemetryState:
    """Everything telemetry keeps for one app (``app.extensions['telemetry']``)."""

    app: Flask
    installation: Installation
    metrics: TelemetryMetrics
    sink: Sink | None
    strict: bool
    kill_switch: str | None
    deployment_type: str = "native"
    # (installation state, its checked context): rebuilt when the state object changes.
    install_context: tuple[InstallState, dict[str, Any]] | None = None
    threads: list[threading.Thread] = field(default_factory=list)

    def __hash__(self) -> int:
        return id(self)


@dataclass(frozen=True)
class LayerState:
    enabled: bool
    reason: str


# -- access --------------------------------------------------------------------


def _state(app: Flask | None = None) -> TelemetryState | None:
    if app is None:
        if not has_app_context():
            return None
        app = current_app._get_current_object()
    return app.extensions.get(EXTENSION_KEY)


def is_initialised(app: Flask | None = None) -> bool:
    """Whether ``init_app`` ran on this (or the current) app."""
    return _state(app) is not None


def kill_switch_reason(config: Mapping[str, Any]) -> str | None:
    """Which kill switch is on, if any: they beat every stored choice."""
    if config.get("DO_NOT_TRACK"):
        return "DO_NOT_TRACK is set"
    if config.get("TELEMETRY_DISABLED"):
        return "TELEMETRY_DISABLED is set"
    return None


def get_telemetry_preference(app: Flask | None = None) -> bool | None:
    """The stored detailed-analytics choice: None (not asked), True or False."""
    state = _state(app)
    if state is None:
        return None
    install = state.installation.read()
    return None if install.problem else install.telemetry_enabled


def is_telemetry_enabled(app: Flask | None = None) -> bool:
    """Whether an admin has opted in to detailed analytics (the stored choice only)."""
    return get_telemetry_preference(app) is True


def set_telemetry_preference(enabled: bool, *, changed_by: str, app: Flask | None = None,
                             sync_settings: bool = True) -> InstallState:
    """Store the detailed-analytics choice in installation.json and ``settings.allow_analytics``.

    The file is written first (under its lock, atomically): it is what the gate
    reads, so an opt-out takes effect in every worker with the next event. Raises
    :class:`InstallationWriteError` when the file cannot be written, so a caller
    never reports a choice that did not stick.
    """
    state = _state(app)
    if state is None:
        raise RuntimeError("telemetry is not initialised on this app")
    value = bool(enabled)
    now = isoformat(datetime.now(timezone.utc))
    saved = state.installation.update(
        lambda current: current if current.telemetry_enabled is value and current.problem is None
        else replace(current, telemetry_enabled=value, telemetry_changed_by=changed_by[:80],
                     telemetry_changed_at=now)
    )
    if sync_settings:
        from ..extensions import db
        from ..services.settings import get_settings

        settings = get_settings()
        if settings.allow_analytics is not value:
            settings.allow_analytics = value
            db.session.commit()
    log.info("telemetry.preference_changed", extra={"enabled": value})
    return saved


# -- layer states --------------------------------------------------------------


def base_layer_state(app: Flask | None = None) -> LayerState:
    """Whether base telemetry would be sent now, and why (or why not)."""
    state = _state(app)
    if state is None:
        return LayerState(False, "telemetry is not initialised")
    if state.kill_switch:
        return LayerState(False, f"off: {state.kill_switch}")
    if state.sink is None:
        return LayerState(False, "off: no sink (GRAFANA_OTLP_ENDPOINT is not set)")
    install = state.installation.read()
    if not install.setup_complete:
        return LayerState(False, "off: setup is not complete")
    if state.sink.kind == "debug":
        return LayerState(True, "on: TELEMETRY_DEBUG writes payloads to the log, nothing is sent")
    return LayerState(True, f"on: sending to {getattr(state.sink, 'url', 'the sink')}")


def analytics_layer_state(app: Flask | None = None) -> LayerState:
    """Whether detailed analytics would be sent now, and why (or why not)."""
    base = base_layer_state(app)
    if not base.enabled:
        return base
    install = _state(app).installation.read()
    if install.problem:
        return LayerState(False, f"off: {install.problem} (consent treated as off)")
    if install.telemetry_enabled is None:
        return LayerState(False, "off: an admin has not been asked yet")
    if install.telemetry_enabled is False:
        return LayerState(False, f"off: opted out by {install.telemetry_changed_by} "
                                  f"at {install.telemetry_changed_at}")
    return LayerState(True, f"on: opted in by {install.telemetry_changed_by} "
                            f"at {install.telemetry_changed_at}")


def is_detailed_analytics_enabled(app: Flask | None = None) -> bool:
    """Whether a product event would be sent now (kill switch, sink, setup and consent)."""
    return analytics_layer_state(app).enabled


def consent_given(install: InstallState) -> bool:
    """Detailed analytics may leave: setup done, the file readable, and an admin opted in.

    The same rule as :func:`analytics_layer_state`, without building its reason.
    """
    return install.setup_complete and install.problem is None and install.telemetry_enabled is True


def analytics_allowed_now(app: Flask | None = None) -> bool:
    """The per-request fast check: a sink exists and consent holds (re-read at most every
    ``CONSENT_RECHECK_SECONDS``)."""
    state = _state(app)
    if state is None or state.kill_switch or state.sink is None:
        return False
    return consent_given(state.installation.read(max_age_seconds=CONSENT_RECHECK_SECONDS))


# -- detailed analytics --------------------------------------------------------


def send_analytics_event(name: str, properties: Mapping[str, Any] | None = None, *,
                         user_id: int | None = None, app: Flask | None = None) -> bool:
    """Send one catalogue event if detailed analytics is on; returns whether it was queued.

    Never raises, except :class:`CatalogueViolation` under tests (``TESTING``).
    """
    state = _state(app)
    sink = state.sink if state is not None and not state.kill_switch else None
    if sink is None:
        return False  # no event is built at all
    install = state.installation.read(max_age_seconds=CONSENT_RECHECK_SECONDS)
    try:
        _, cleaned = catalogue.validate(name, properties or {})
        context = _context(state, install, user_id)
    except CatalogueViolation:
        state.metrics.count(LAYER_ANALYTICS, "filtered")
        if state.strict:
            raise
        log.warning("telemetry.catalogue_violation", extra={"event_name": name}, exc_info=True)
        return False
    except Exception:
        log.warning("telemetry.event_error", exc_info=True)
        return False
    if not consent_given(install):
        state.metrics.count(LAYER_ANALYTICS, "filtered")
        return False
    return sink.emit(LAYER_ANALYTICS, name, {**cleaned, **context})


def _context(state: TelemetryState, install: InstallState, user_id: int | None) -> dict[str, Any]:
    context = dict(_install_context(state, install))
    if user_id is not None:
        context["user_id"] = _checked_context("user_id", user_id)
    if has_request_context():
        context.update(_agent_context(request.headers.get("User-Agent", "")))
    return context


def _install_context(state: TelemetryState, install: InstallState) -> dict[str, Any]:
    """The context every event of this install carries, checked once per installation state."""
    cached = state.install_context
    if cached is not None and cached[0] is install:
        return cached[1]
    context = {key: _checked_context(key, value) for key, value in (
        ("install_id", install.install_id),
        ("app_version", state.app.config.get("APP_VERSION", "0.0.0")),
        ("deployment_type", state.deployment_type),
    )}
    state.install_context = (install, context)
    return context


@functools.lru_cache(maxsize=256)
def _agent_context(user_agent: str) -> dict[str, str]:
    # Browsers send the same few User-Agent strings over and over: classify each once.
    return {"browser_family": _checked_context("browser_family", browser_family(user_agent)),
            "device_type": _checked_context("device_type", device_type(user_agent))}


def _checked_context(key: str, value: Any) -> Any:
    return catalogue.CONTEXT_PROPERTIES[key].check(key, value)


def browser_family(user_agent: str) -> str:
    """A coarse browser family; the User-Agent itself never leaves the process."""
    if not user_agent:
        return "none"
    if "Edg/" in user_agent:
        return "edge"
    if "Firefox/" in user_agent:
        return "firefox"
    if "Chrome/" in user_agent or "Chromium/" in user_agent:
        return "chrome"
    if "Safari/" in user_agent:
        return "safari"
    return "other"


def device_type(user_agent: str) -> str:
    """desktop, mobile, tablet, bot, or none (no User-Agent)."""
    if not user_agent:
        return "none"
    lowered = user_agent.lower()
    if any(word in lowered for word in ("bot", "crawl", "spider")):
        return "bot"
    if "ipad" in lowered or "tablet" in lowered:
        return "tablet"
    if "mobi" in lowered or "android" in lowered:
        return "mobile"
    return "desktop"


def deployment_type(config: Mapping[str, Any]) -> str:
    value = config.get("DEPLOYMENT_TYPE") or "auto"
    if value == "auto":
        from pathlib import Path

        return "docker" if Path("/.dockerenv").exists() else "native"
    return value


# -- base telemetry ------------------------------------------------------------


def base_payload(state: TelemetryState, install: InstallState, name: str,
                 now: datetime) -> dict[str, Any]:
    """The exact attributes of a base event (also shown as the next heartbeat)."""
    attributes = {
        "install_id": install.install_id,
        "app_version": state.app.config.get("APP_VERSION", "0.0.0"),
        "platform": os_type(),
        "os_version": _short(platform.release()),
        "architecture": host_arch(),
        "locale": _server_locale(),
        "timezone": _install_timezone(),
        "first_seen_at": install.first_seen_sent_at or isoformat(now),
        "last_seen_at": isoformat(now),
        "release_channel": state.app.config.get("RELEASE_CHANNEL", "stable"),
        "deployment_type": state.deployment_type,
    }
    if name == "base_telemetry.heartbeat":
        attributes["heartbeat_at"] = install.last_heartbeat_at or isoformat(now)
    _, cleaned = catalogue.validate(name, attributes)
    return cleaned


def _short(value: str) -> str:
    cleaned = "".join(ch for ch in value if ch.isalnum() or ch in "_.+:/-")[:64]
    return cleaned or "unknown"


def _server_locale() -> str:
    try:
        value = locale.getlocale()[0]
    except ValueError:
        value = None
    return _short(value or "C")


def _install_timezone() -> str:
    try:
        from ..services.settings import get_settings

        return _short(get_settings().default_timezone)
    except Exception:  # no database (yet): the payload still goes out
        return "UTC"


def send_base_first_seen(now: datetime | None = None, app: Flask | None = None) -> bool:
    """Send ``base_telemetry.first_seen`` if this install never has; returns whether it did.

    The claim (``first_seen_sent_at``) is written under the file lock before the
    event is queued, so across restarts and workers it goes out at most once.
    """
    state = _state(app)
    if state is None or not base_layer_state(state.app).enabled:
        return False
    now = now or datetime.now(timezone.utc)
    claimed: list[InstallState] = []

    def claim(current: InstallState) -> InstallState | None:
        if not current.setup_complete or current.first_seen_sent_at or current.problem:
            return None
        new = replace(current, first_seen_sent_at=isoformat(now))
        claimed.append(new)
        return new

    return _claim_and_send(state, claim, claimed, "base_telemetry.first_seen", now)


def send_base_heartbeat(now: datetime | None = None, app: Flask | None = None) -> bool:
    """Send today's ``base_telemetry.heartbeat`` unless any worker already did.

    The day (UTC) is claimed under the file lock, so however many workers run the
    job, one heartbeat per install per day goes out. first_seen is sent first if
    it never was.
    """
    state = _state(app)
    if state is None or not base_layer_state(state.app).enabled:
        return False
    now = now or datetime.now(timezone.utc)
    send_base_first_seen(now, state.app)
    day = now.astimezone(timezone.utc).date().isoformat()
    claimed: list[InstallState] = []

    def claim(current: InstallState) -> InstallState | None:
        if not current.setup_complete or current.last_heartbeat_day == day or current.problem:
            return None
        new = replace(current, last_heartbeat_day=day, last_heartbeat_at=isoformat(now))
        claimed.append(new)
        return new

    return _claim_and_send(state, claim, claimed, "base_telemetry.heartbeat", now)


def _claim_and_send(state, claim, claimed, name, now) -> bool:
    try:
        state.installation.update(claim)
    except InstallationWriteError:
        log.warning("telemetry.claim_failed", extra={"event_name": name}, exc_info=True)
        return False
    sink = state.sink  # read once: shutdown() may clear it from another thread
    if not claimed or sink is None:
        return False
    try:
        payload = base_payload(state, claimed[0], name, now)
    except CatalogueViolation:
        state.metrics.count(LAYER_BASE, "filtered")
        if state.strict:
            raise
        return False
    return sink.emit(LAYER_BASE, name, payload)


def next_heartbeat_preview(app: Flask | None = None,
                           now: datetime | None = None) -> dict[str, Any] | None:
    """The exact payload of the next heartbeat (what the admin page shows), or None."""
    state = _state(app)
    if state is None:
        return None
    now = now or datetime.now(timezone.utc)
    at = now.replace(hour=HEARTBEAT_HOUR_UTC, minute=0, second=0, microsecond=0)
    if at <= now:
        at += timedelta(days=1)
    install = state.installation.read()
    preview = replace(install, last_heartbeat_at=isoformat(at))
    from .sink import payload_dict

    return {"scheduled_at": isoformat(at),
            **payload_dict("base_telemetry.heartbeat", LAYER_BASE,
                           base_payload(state, preview, "base_telemetry.heartbeat", at))}


def on_setup_completed(allow_analytics: bool, changed_by: str, app: Flask | None = None) -> None:
    """Record setup in installation.json and send first_seen in the background."""
    state = _state(app)
    if state is None:
        return
    try:
        state.installation.update(lambda current: replace(
            current, setup_complete=True, telemetry_enabled=bool(allow_analytics),
            telemetry_changed_by=changed_by[:80],
            telemetry_changed_at=isoformat(datetime.now(timezone.utc))))
    except InstallationWriteError:
        log.warning("telemetry.setup_not_recorded", exc_info=True)
        return
    send_first_seen_in_background(state)


def send_first_seen_in_background(state: TelemetryState) -> None:
    """Try first_seen from a daemon thread (after setup, and at every start until it went out).

    Every gunicorn worker may try at start; the claim under the file lock lets one send.
    """
    if state.kill_switch or state.sink is None:
        return
    install = state.installation.read()
    if not install.setup_complete or install.first_seen_sent_at:
        return

    def run() -> None:
        try:
            with state.app.app_context():
                send_base_first_seen(app=state.app)
        except Exception:
            log.warning("telemetry.first_seen_failed", exc_info=True)

    thread = threading.Thread(target=run, name="telemetry-first-seen", daemon=True)
    state.threads.append(thread)
    thread.start()


# -- lifecycle -----------------------------------------------------------------


def flush(timeout_seconds: float = 5.0, app: Flask | None = None) -> bool:
    """Wait (bounded) for background work and queued records to be exported."""
    state = _state(app)
    if state is None:
        return True
    for thread in list(state.threads):
        thread.join(timeout_seconds)
    state.threads = [t for t in state.threads if t.is_alive()]
    return state.sink.flush(timeout_seconds) if state.sink is not None else True


def shutdown(timeout_seconds: float = 3.0, app: Flask | None = None) -> None:
    """Flush and stop the sink; bounded by the exporter's short timeout."""
    state = _state(app)
    if state is None or state.sink is None:
        return
    sink, state.sink = state.sink, None
    for thread in list(state.threads):
        thread.join(timeout_seconds)
    try:
        sink.shutdown(timeout_seconds)
    except Exception:
        log.warning("telemetry.shutdown_error", exc_info=True)


def _shutdown_all() -> None:
    for state in list(_live_states):
        shutdown(app=state.app)


_atexit_registered = False


def register(state: TelemetryState) -> None:
    """Remember a state so its sink is flushed (bounded) at process exit."""
    global _atexit_registered
    _live_states.add(state)
    if not _atexit_registered:
        atexit.register(_shutdown_all)
        _atexit_registered = True
