"""The limit: a bare Flask app answering the scenario routes with canned responses.

Scenario 1 serves this under the same gunicorn configuration as the real app
(``gunicorn.conf.py``: gthread, the same workers and threads), so the difference
between the two is the app's own request path (sessions, token lookup, queries,
templates, hooks), not the server. The responses (status, content type, body) are
the ones the real app gave for the same requests, captured by the benchmark and
read from the JSON file named by ``BENCH_BARE_RESPONSES``:
``{"GET /api/v1/me": {"status": 200, "content_type": "...", "body": "..."}, ...}``.
Nothing here touches a database, a session or a template.
"""

from __future__ import annotations

import json
import os

from flask import Flask, Response, request


def create_app() -> Flask:
    with open(os.environ["BENCH_BARE_RESPONSES"], encoding="utf-8") as handle:
        canned = {key: (value["status"], value["content_type"], value["body"].encode("utf-8"))
                  for key, value in json.load(handle).items()}
    app = Flask(__name__)

    @app.route("/", defaults={"path": ""}, methods=["GET", "POST"])
    @app.route("/<path:path>", methods=["GET", "POST"])
    def canned_response(path: str):
        found = canned.get(f"{request.method} /{path}")
        if found is None:
            return Response("not canned\n", status=404, mimetype="text/plain")
        status, content_type, body = found
        return Response(body, status=status, content_type=content_type)

    return app
