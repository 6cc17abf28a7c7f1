"""Observability for operators: JSON logs with request ids, Prometheus metrics, Sentry.

``init_app`` wires all three into an app; ``create_app`` calls it once, right
after the extensions. Importing this package has no side effects, and it does
not import ``prometheus_client`` either: that library decides at import time
whether it runs in multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``), so it must
not be imported before the launcher has set that variable (see
``gunicorn.conf.py``).
"""

from __future__ import annotations

from flask import Flask

from .logging import current_request_id, log_event

__all__ = ["current_request_id", "init_app", "log_event"]


def init_app(app: Flask) -> None:
    """Install logging, request ids and access lines, ``/metrics``, and Sentry (when configured)."""
    from . import domain, errors, logging as obs_logging, metrics

    obs_logging.init_app(app)
    metrics.init_app(app)
    errors.init_app(app)
    domain.init_app(app)
