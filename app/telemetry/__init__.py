"""Consent-gated telemetry (docs/telemetry/architecture.md).

``init_app`` builds the app's :class:`~app.telemetry.client.TelemetryClient`
(``app.extensions['telemetry']``, reached with :func:`client`) and subscribes it to
the domain events (``subscribers.py``): product events come from what services
announce, never from routes. Page views are the one request-level concern here.
Importing this package has no side effects: the exporter, its thread and the
scheduler exist only once ``create_app`` runs.
"""

from __future__ import annotations

import atexit
import logging
import weakref
from typing import Any

from flask import Flask, current_app, has_app_context, request

from . import flags, outbox  # noqa: F401  (register the feature_flag_overrides and telemetry_outbox tables)
from .catalogue import CatalogueViolation
from .client import EXTENSION_KEY, ConsentRefused, TelemetryClient, kill_switch_reason

log = logging.getLogger("app.telemetry")

# Endpoints whose views are not product pages.
_UNTRACKED_ENDPOINTS = frozenset({"static", "observability.metrics"})
_live_clients: "weakref.WeakSet[TelemetryClient]" = weakref.WeakSet()


def init_app(app: Flask) -> None:
    """Build the client (an exporter only when there is somewhere to send), subscribe it to
    the domain events, bring installation.json in step with the database, and try the
    base events that are due."""
    from ..extensions import db
    from . import subscribers
    from .installation import Installation
    from .metrics import init_app as init_metrics

    with app.app_context():
        engine = db.engine
    telemetry = TelemetryClient(
        app, engine=engine, installation=Installation(app.config["DATA_DIR"]),
        metrics=init_metrics(app), exporter=build_exporter(app.config),
        kill_switch=kill_switch_reason(app.config), strict=bool(app.config.get("TESTING")),
    )
    app.extensions[EXTENSION_KEY] = telemetry
    _register_for_exit(telemetry)
    subscribers.connect()
    if telemetry.kill_switch is None:
        telemetry.state()  # adopt or create the install id; rebuild a lost installation.json
    _log_layers(telemetry)
    if telemetry.consumer is not None:
        app.after_request(_track_page_view)
        # Setup done but first_seen never acknowledged (sink down, a CLI that exited):
        # try again now; the lease in the database lets one worker of many send it.
        telemetry.send_due_base_events()
    app.context_processor(lambda: {"feature_flags": flags.all_flags()})
    app.jinja_env.globals["feature_flag_rows"] = _feature_flag_rows
    app.jinja_env.globals["telemetry_disclosure"] = lambda: telemetry.disclosure()


def _log_layers(telemetry: TelemetryClient) -> None:
    """One line at start of a server process: each layer's state and why, and where records
    go (credentials masked). A ``flask`` command says it with ``flask telemetry status``
    instead of adding a line before its own answer."""
    import click

    if click.get_current_context(silent=True) is not None:
        return
    try:
        state = telemetry.state()
        base, analytics = telemetry.base_layer(state), telemetry.analytics_layer(state)
    except Exception:  # never let the report stop the app
        log.warning("telemetry.state_unknown", exc_info=True)
        return
    log.info("telemetry.layers", extra={
        "base_telemetry": base.reason, "detailed_analytics": analytics.reason,
        "endpoint": telemetry.recipient()["endpoint"],
        "catalogue_version": telemetry.catalogue_version})


def build_exporter(config):
    """Where records go: OTLP/HTTP, or the JSON log (``TELEMETRY_DEBUG``); None: nowhere.

    Never built under a kill switch: then no exporter, session or socket exists.
    """
    from ..config import check_otlp_credentials
    from .consumer import DebugExporter, OtlpExporter

    if kill_switch_reason(config):
        return None
    if config.get("TELEMETRY_DEBUG"):
        return DebugExporter()
    endpoint = config.get("GRAFANA_OTLP_ENDPOINT")
    if not endpoint:
        return None
    # Also for a config given as a dict (from_environ checks the environment's).
    check_otlp_credentials(endpoint, config.get("GRAFANA_OTLP_TOKEN"))
    return OtlpExporter(logs_url(endpoint), authorization_header(config.get("GRAFANA_OTLP_TOKEN")),
                        float(config.get("TELEMETRY_EXPORT_TIMEOUT_SECONDS", 2.0)))


def authorization_header(token: str | None) -> dict[str, str]:
    """``instance:token`` → HTTP Basic (what Grafana Cloud expects); a bare token → Bearer."""
    import base64

    if not token:
        return {}
    if ":" in token:
        return {"Authorization": "Basic " + base64.b64encode(token.encode()).decode("ascii")}
    return {"Authorization": f"Bearer {token}"}


def logs_url(endpoint: str) -> str:
    """The OTLP/HTTP logs URL under the configured base endpoint.

    The suffix goes on the path: ``https://host/otlp?token=x`` becomes
    ``https://host/otlp/v1/logs?token=x`` (appended to the text, it landed inside the query).
    """
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(endpoint)
    path = parts.path.rstrip("/")
    if not path.endswith("/v1/logs"):
        path += "/v1/logs"
    return urlunsplit(parts._replace(path=path))


def client(app: Flask | None = None) -> TelemetryClient | None:
    """The telemetry client of ``app`` (or of the current app), None when not initialised."""
    if app is None:
        if not has_app_context():
            return None
        app = current_app._get_current_object()
    return app.extensions.get(EXTENSION_KEY)


def track_event(user_id: int | None, name: str, properties: dict[str, Any] | None = None, *,
                source: str = "web") -> bool:
    """Queue catalogue event ``name`` for ``user_id`` through the current app's client: the same
    consent gate and catalogue check as the domain-event subscribers. False when refused or
    dropped; raises CatalogueViolation for a name or property the catalogue lacks. Routes never
    call this: services announce domain events instead."""
    telemetry = client()
    return telemetry.track(name, properties, user_id=user_id, source=source) \
        if telemetry is not None else False


def _track_page_view(response):
    rule = request.url_rule
    if rule is None or request.method != "GET" or request.endpoint in _UNTRACKED_ENDPOINTS \
            or (request.endpoint or "").startswith("health") \
            or response.mimetype != "text/html":
        return response
    telemetry = client()
    # Cheap check first: the hook runs on every response.
    if telemetry is None or not telemetry.analytics_allowed_now():
        return response
    from ..auth import authenticated_user_id  # no SELECT after a commit (see there)

    # track() drops a catalogue violation itself (and raises it only under TESTING).
    telemetry.track("page.viewed", {
        "route": rule.rule,
        "status_class": f"{min(max(response.status_code // 100, 2), 5)}xx"},
        user_id=authenticated_user_id())
    return response


def _feature_flag_rows() -> list[dict[str, Any]]:
    """Each flag with its value and where the value comes from (Admin → Settings)."""
    return [{"flag": flag, "enabled": flags.get_feature_flag(None, flag.name),
             "source": flags.flag_source(flag.name)} for flag in flags.FLAGS.values()]


_atexit_registered = False


def _register_for_exit(telemetry: TelemetryClient) -> None:
    """Flush every client (bounded) at process exit: a CLI command must not lose its events."""
    global _atexit_registered
    _live_clients.add(telemetry)
    if not _atexit_registered:
        atexit.register(_shutdown_all)
        _atexit_registered = True


def _shutdown_all() -> None:
    for telemetry in list(_live_clients):
        telemetry.shutdown()


get_feature_flag = flags.get_feature_flag
feature_flag_required = flags.feature_flag_required

__all__ = ["init_app", "client", "track_event", "get_feature_flag", "feature_flag_required",
           "CatalogueViolation", "ConsentRefused", "TelemetryClient"]
