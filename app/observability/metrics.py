"""Prometheus metrics at ``/metrics``: request counts and latency, business gauges.

Two modes, chosen by ``PROMETHEUS_MULTIPROC_DIR``:

- unset (tests, ``flask run``): each app has its own registry and metric objects;
- set (gunicorn, see ``gunicorn.conf.py``): prometheus-client's multiprocess mode.
  Every worker writes its counters to mmap files in that directory and a scrape,
  whichever worker answers it, sums all files. The variable must be in the
  environment before ``prometheus_client`` is first imported: the library picks
  its value class at import time.

Gauges that need the database (``tt_active_timers``, ``tt_users``) are computed
by a collector at scrape time with two COUNT queries, never per request.
"""

from __future__ import annotations

import functools
import hmac
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import prometheus_client
from flask import Blueprint, Flask, Response, abort, current_app, has_app_context, request
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client import values as prometheus_values
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from ..extensions import csrf, db
from .logging import duration_seconds, route_template
from .multiprocess import MultiProcessExposition

EXTENSION_KEY = "tt_metrics"
METRICS_ENDPOINT = "observability.metrics"
# Methods a scanner can invent are folded into one label value.
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# A web app: most pages take 5-250 ms, reports and exports up to a few seconds.
LATENCY_BUCKETS_SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

log = logging.getLogger("app.observability")
bp = Blueprint("observability", __name__)


class MetricsConfigError(RuntimeError):
    """Multiprocess mode was asked for after prometheus_client had started without it."""


@dataclass
class AppMetrics:
    """The metric objects of one app, kept in ``app.extensions['tt_metrics']``."""

    multiprocess_dir: str | None
    registry: CollectorRegistry | None
    requests_total: Counter
    request_latency_seconds: Histogram
    time_entries_created_total: Counter
    exposition: MultiProcessExposition | None = None  # multiprocess mode: renders the files
    extra_collectors: list[Any] = field(default_factory=list)


def init_app(app: Flask) -> None:
    """Create the metrics, count requests, and serve ``/metrics`` unless ``METRICS_ENABLED`` is off."""
    if not app.config["METRICS_ENABLED"]:
        return
    # The *_created series double the series count and do not exist in
    # multiprocess mode anyway: both modes expose the same names without them.
    prometheus_client.disable_created_metrics()
    multiprocess_dir = app.config.get("PROMETHEUS_MULTIPROC_DIR")
    if multiprocess_dir:
        if not getattr(prometheus_values.ValueClass, "_multiprocess", False):
            raise MetricsConfigError(
                "PROMETHEUS_MULTIPROC_DIR must be in the environment before prometheus_client "
                "is imported; set it in the launcher (gunicorn.conf.py does)"
            )
        Path(multiprocess_dir).mkdir(parents=True, exist_ok=True)
        registry = None  # values live in the mmap files; a scrape renders them
    else:
        registry = CollectorRegistry()
    app.extensions[EXTENSION_KEY] = AppMetrics(
        multiprocess_dir=multiprocess_dir or None,
        registry=registry,
        requests_total=Counter(
            "tt_requests", "HTTP requests answered, by method, URL rule and status.",
            ["method", "endpoint", "http_status"], registry=registry,
        ),
        request_latency_seconds=Histogram(
            "tt_request_latency_seconds", "Time from the first request hook to the response.",
            ["endpoint"], buckets=LATENCY_BUCKETS_SECONDS, registry=registry,
        ),
        time_entries_created_total=Counter(
            "tt_time_entries_created", "Time entries created, by source (timer or manual).",
            ["source"], registry=registry,
        ),
        exposition=MultiProcessExposition(multiprocess_dir) if multiprocess_dir else None,
    )
    app.after_request(_count_request)
    app.register_blueprint(bp)


def add_collector(app: Flask, collector: Any) -> None:
    """Add a scrape-time collector (an object with ``collect()``) to ``/metrics``."""
    metrics = app.extensions.get(EXTENSION_KEY)
    if metrics is not None:
        metrics.extra_collectors.append(collector)


def _count_request(response):
    if request.endpoint == METRICS_ENDPOINT:
        return response  # scrapes are not counted in what they scrape
    metrics = current_app.extensions[EXTENSION_KEY]
    endpoint = route_template()
    method = request.method if request.method in KNOWN_METHODS else "OTHER"
    metrics.requests_total.labels(method, endpoint, str(response.status_code)).inc()
    seconds = duration_seconds()
    if seconds is not None:
        metrics.request_latency_seconds.labels(endpoint).observe(seconds)
    return response


class _RegistryCollector:
    """Exposes an existing registry's metrics inside a scrape registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._registry = registry

    def collect(self):
        return self._registry.collect()


class BusinessCollector:
    """Scrape-time gauges: app version, running timers, users by role."""

    def __init__(self, version: str) -> None:
        self._version = version

    def collect(self) -> Iterable[GaugeMetricFamily]:
        from ..models import ROLES

        info = GaugeMetricFamily("tt_app_info", "TimeTracker build information.",
                                 labels=["version"])
        info.add_metric([self._version], 1)
        yield info
        running_query, roles_query = _business_queries()
        try:
            running = db.session.scalar(running_query)
            per_role = dict(db.session.execute(roles_query).all())
        except SQLAlchemyError as exc:
            db.session.rollback()
            # The request metrics are still worth serving when the database is down.
            log.warning("metrics database gauges skipped", extra={"error": type(exc).__name__})
            return
        timers = GaugeMetricFamily("tt_active_timers", "Timers running right now.")
        timers.add_metric([], running or 0)
        yield timers
        users = GaugeMetricFamily("tt_users", "Active (not deactivated) accounts, by role.",
                                  labels=["role"])
        for role in ROLES:
            users.add_metric([role], per_role.get(role, 0))
        yield users


@functools.cache
def _business_queries():
    """The two gauge queries, built once (building them was a tenth of a scrape's CPU)."""
    from ..models import TimeEntry, User

    running = select(func.count()).select_from(TimeEntry).where(TimeEntry.ended_at.is_(None))
    per_role = select(User.role, func.count()).where(User.active.is_(True)).group_by(User.role)
    return running, per_role


@bp.get("/metrics")
def metrics():
    """The Prometheus text exposition; Bearer-token protected when ``METRICS_TOKEN`` is set."""
    token = current_app.config.get("METRICS_TOKEN")
    if token and not _bearer_matches(token):
        response = Response("unauthorized\n", status=401, mimetype="text/plain")
        response.headers["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    state: AppMetrics | None = current_app.extensions.get(EXTENSION_KEY)
    if state is None:
        abort(404)
    registry = CollectorRegistry()
    workers = b""
    if state.exposition is not None:
        # Every worker's files, merged as MultiProcessCollector would, 10x cheaper.
        workers = state.exposition.render().encode("utf-8")
    else:
        registry.register(_RegistryCollector(state.registry))
    registry.register(BusinessCollector(current_app.config["APP_VERSION"]))
    for collector in state.extra_collectors:
        registry.register(collector)
    # generate_latest writes the classic text format (0.0.4), which every
    # Prometheus understands; label it as such, not as the library's "latest".
    response = Response(workers + generate_latest(registry), content_type=CONTENT_TYPE_PLAIN_0_0_4)
    response.headers["Cache-Control"] = "no-store"
    return response


def _bearer_matches(token: str) -> bool:
    header = request.headers.get("Authorization", "")
    scheme, _, presented = header.partition(" ")
    if scheme.lower() != "bearer" or not presented:
        return False
    return hmac.compare_digest(presented.strip().encode(), token.encode())


csrf.exempt(bp)
