"""Consent-gated telemetry (docs/telemetry/architecture.md).

``init_app`` wires it into the factory; ``track_event``, ``track_page_view`` and
``identify_user`` (re-exported by ``app``) are the only doors routes use.
Importing this package has no side effects: the sink, its thread and the
scheduler exist only once ``create_app`` runs.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, current_app, has_app_context, has_request_context, request

from . import flags, outbox  # noqa: F401  (register the feature_flag_overrides and telemetry_outbox tables)
from . import service
from .catalogue import LAYER_ANALYTICS, CatalogueViolation

log = logging.getLogger("app.telemetry")

# Endpoints whose views are not product pages.
_UNTRACKED_ENDPOINTS = frozenset({"static", "observability.metrics"})


def init_app(app: Flask) -> None:
    """Create the telemetry state: installation.json, metrics, and the sink if any."""
    from .installation import Installation
    from .metrics import init_app as init_metrics
    from .sink import build_sink

    installation = Installation(app.config["DATA_DIR"])
    kill_switch = service.kill_switch_reason(app.config)
    if not kill_switch:
        installation.repair()  # a corrupt file is rewritten at start-up, never by a request
    metrics = init_metrics(app)
    sink = build_sink(app.config, metrics, lambda payloads: outbox.record_sent(app, payloads),
                      may_export=lambda layer: _may_export(installation, layer))
    state = service.TelemetryState(
        app=app, installation=installation, metrics=metrics, sink=sink,
        strict=bool(app.config.get("TESTING")), kill_switch=kill_switch,
        deployment_type=service.deployment_type(app.config),
    )
    app.extensions[service.EXTENSION_KEY] = state
    service.register(state)
    if sink is not None:
        app.after_request(_track_page_view_hook)
        # Setup done but first_seen never went out (sink configured later, or a crash):
        # try now, in the background; the file lock lets one worker of many send it.
        service.send_first_seen_in_background(state)
    app.context_processor(lambda: {"feature_flags": flags.all_flags()})
    app.jinja_env.globals["feature_flag_rows"] = _feature_flag_rows


def _may_export(installation, layer: str) -> bool:
    """Checked by the sink right before each export, from a fresh read of the file:
    an opt-out stops detailed analytics that were already queued."""
    return layer != LAYER_ANALYTICS or service.consent_given(installation.read())


def _feature_flag_rows() -> list[dict[str, Any]]:
    """Each flag with its value and where the value comes from (Admin → Settings)."""
    return [{"flag": flag, "enabled": flags.get_feature_flag(None, flag.name),
             "source": flags.flag_source(flag.name)} for flag in flags.FLAGS.values()]


def _current_user_id() -> int | None:
    if not has_request_context():
        return None
    from ..auth import authenticated_user_id  # no SELECT after a commit (see there)

    return authenticated_user_id()


def track_event(name: str, properties: dict[str, Any] | None = None, *,
                source: str = "web", user_id: int | None = None) -> bool:
    """Send a catalogue event (detailed analytics) if an admin opted in.

    ``source`` is web, api or cli; the acting user defaults to the signed-in
    user. Returns whether the event was queued; never raises in production.
    """
    if not has_app_context():
        return False
    props = dict(properties or {})
    props["source"] = source
    return service.send_analytics_event(
        name, props, user_id=user_id if user_id is not None else _current_user_id())


def track_page_view(route: str, status_code: int) -> bool:
    """A page view: the URL rule template (``/entries/<int:entry_id>/edit``), never the URL."""
    return track_event("page.viewed",
                       {"route": route, "status_class": f"{min(max(status_code // 100, 2), 5)}xx"})


def identify_user(user) -> bool:
    """Tie the following events to the internal user id (role only, never names or emails)."""
    return track_event("user.identified", {"role": user.role}, user_id=user.id)


def _track_page_view_hook(response):
    rule = request.url_rule
    if rule is None or request.method != "GET" or request.endpoint in _UNTRACKED_ENDPOINTS \
            or (request.endpoint or "").startswith("health") \
            or response.mimetype != "text/html":
        return response
    # Cheap check first: the hook runs on every response.
    if not service.analytics_allowed_now():
        return response
    try:
        track_page_view(rule.rule, response.status_code)
    except CatalogueViolation:
        if current_app.config.get("TESTING"):
            raise
    return response


get_feature_flag = flags.get_feature_flag
feature_flag_required = flags.feature_flag_required

__all__ = ["init_app", "get_feature_flag", "feature_flag_required", "track_event", "track_page_view", "identify_user", "CatalogueViolation"]
