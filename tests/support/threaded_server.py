"""An app object served on 127.0.0.1 by werkzeug in a thread of this process.

For tests that need a real HTTP server but also the app in hand (its config, its
telemetry client, its database): the browser tests and the deployment-stack tests.
Tests that need worker processes use ``tests/support/gunicorn.py``.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Iterator

from flask import Flask
from werkzeug.serving import make_server


@contextlib.contextmanager
def threaded_server(app: Flask) -> Iterator[str]:
    """Serve ``app`` on a free loopback port; yields its base URL; shuts the server down
    on leaving (the app itself stays the caller's to dispose of)."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="threaded-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(5)
        server.server_close()
