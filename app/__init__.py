"""TimeTracker: a self-hosted time tracker with built-in observability.

``create_app`` is the only place the application is assembled; importing this
package has no side effects (no logging setup, no connections, no threads).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from flask import Flask

from . import config as config_module
from . import data_dir, database, observability, security, sessions, telemetry
from .extensions import csrf, db, limiter, login_manager, migrate
from .observability import log_event  # noqa: F401  (re-exported: `from app import log_event`)
from .telemetry import track_event  # noqa: F401  (re-exported: `from app import track_event`)

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def create_app(config: Mapping[str, Any] | object | None = None) -> Flask:
    """Build the application: config → extensions → observability → telemetry → blueprints
    → CLI → scheduler."""
    app = Flask(__name__, instance_relative_config=False)
    config_module.init_app(app, config)
    data_dir.init_app(app)
    database.create_private_sqlite_file(app.config["SQLALCHEMY_DATABASE_URI"])
    _trust_reverse_proxies(app)

    _init_extensions(app)
    observability.init_app(app)
    sessions.init_app(app)
    telemetry.init_app(app)
    _register_blueprints(app)
    security.init_app(app)
    _register_cli(app)
    _start_scheduler(app)
    return app


def _trust_reverse_proxies(app: Flask) -> None:
    """Behind N proxies, take the client address and scheme from their headers.

    Without this every request would appear to come from the proxy, and the
    per-address login throttle would lock out everyone at once.
    """
    hops = app.config.get("PROXY_FIX_X_FOR", 0)
    if hops:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)


def _init_extensions(app: Flask) -> None:
    from . import models  # noqa: F401  (registers the tables on db.metadata)

    db.init_app(app)
    migrate.init_app(app, db, directory=str(MIGRATIONS_DIR), render_as_batch=True, compare_type=True)
    login_manager.init_app(app)
    csrf.init_app(app)
    limiter.init_app(app)
    database.init_app(app)

    from .auth import load_user
    from .routes.auth import register_oidc

    register_oidc(app)

    login_manager.user_loader(load_user)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please sign in to continue."
    login_manager.login_message_category = "info"


def _register_blueprints(app: Flask) -> None:
    from .routes import register_blueprints
    from .routes.template_helpers import register_template_helpers

    register_blueprints(app)
    register_template_helpers(app)


def _register_cli(app: Flask) -> None:
    from .cli import register_cli

    register_cli(app)


def _start_scheduler(app: Flask) -> None:
    """One APScheduler per process; a lease in the database lets one process send each base
    event."""
    if app.config.get("TESTING") or not app.config.get("SCHEDULER_ENABLED", True):
        return
    from .telemetry.jobs import start_scheduler

    start_scheduler(app)
