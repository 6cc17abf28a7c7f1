"""The key that signs sessions and CSRF tokens: SECRET_KEY, else the install's key from the
database, fetched on first need when the database cannot answer at start."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Callable

from flask import Flask
from flask.sessions import SecureCookieSessionInterface

from .extensions import db
from .services import secret_key

log = logging.getLogger("app.secret_key")


def init_app(app: Flask) -> None:
    """SECRET_KEY from the environment, else the install's key from the database.

    The database is what every replica shares, so sessions and CSRF tokens made on
    one replica are valid on all (app/services/secret_key.py). It is read once here;
    when the database cannot answer yet (``flask db upgrade`` on a new database, or
    the database is down while a worker boots) the key is fetched when a request
    first needs a session, and until then no session can be signed at all (never
    with a stand-in key, which would split the replicas again).
    """
    if app.config.get("SECRET_KEY"):
        return
    with app.app_context():
        engine = db.engine
    data_dir = Path(app.config["DATA_DIR"])
    lock = threading.Lock()

    def resolve(at_start: bool) -> bool:
        with lock:
            if app.config.get("SECRET_KEY"):
                return True
            try:
                app.config["SECRET_KEY"] = secret_key.load_or_create(engine, data_dir)
            except secret_key.SecretKeyUnavailable as exc:
                # At start this is routine for `flask db upgrade` on a new database.
                if at_start:
                    log.info("secret_key.deferred", extra={"problem": str(exc)})
                else:
                    log.warning("secret_key.unavailable", extra={"problem": str(exc)})
                return False
            return True

    if not resolve(at_start=True):
        app.session_interface = KeyFromDatabaseSessions(resolve)


class KeyFromDatabaseSessions(SecureCookieSessionInterface):
    """Flask's cookie sessions, fetching the key from the database on first need."""

    def __init__(self, resolve: Callable[..., bool]) -> None:
        self._resolve = resolve

    def get_signing_serializer(self, app: Flask):
        if not app.config.get("SECRET_KEY"):
            self._resolve(at_start=False)
        return super().get_signing_serializer(app)
