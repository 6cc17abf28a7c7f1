"""Look-alike clients created at the same moment: the unique index lets exactly one in.

Real parallel requests against real gunicorn (two workers) on the test's database,
SQLite and PostgreSQL: in each round eight spellings of one name (case, Greek Alpha,
Cyrillic "е", U+034F, U+3164, fullwidth, zero-width) are posted at one instant, five
through the API and three through the web form. No lookup before the write can see
the others' rows (none is committed yet); the index on ``clients.name_key`` must let
exactly one in and the others must be refused with the duplicate-name message.
"""

from __future__ import annotations

import requests
from sqlalchemy import select

from app.extensions import db
from app.models import Client
from app.services import api_tokens, catalog
from app.services.users import find_by_username
from app.services.validation import name_key_digest
from tests.support.parallel import ADMIN_PASSWORD, WebSession, live_server, race

ROUNDS = 5
API_SPELLINGS = ["Acme {n}", "ACME {n}", "\u0391cme {n}", "Acm\u0435 {n}", "Ac\u034fme {n}"]
WEB_SPELLINGS = ["Acme {n}\u3164", "Ａｃｍｅ {n}", "Ac\u200bme {n}"]
CLOSE = {"Connection": "close"}  # the web tokens are read before the rounds


def _clients(app) -> list[tuple[str, str]]:
    with app.app_context():
        rows = [(c.name, c.name_key) for c in db.session.scalars(select(Client))]
        db.session.remove()
    return rows


def test_simultaneous_look_alike_clients_one_wins_the_others_are_refused(
        database_url, app_factory, tmp_path):
    with live_server(tmp_path / "server", database_url) as server:
        app = app_factory()
        with app.app_context():
            secret = api_tokens.create_token(find_by_username("admin"), "race").secret
        headers = {"Authorization": f"Bearer {secret}", **CLOSE}
        browsers = [WebSession(server.url, "admin", ADMIN_PASSWORD) for _ in WEB_SPELLINGS]
        tokens = [browser.csrf_token("/clients/new") for browser in browsers]

        def by_api(name: str):
            return lambda: requests.post(f"{server.url}/api/v1/clients", json={"name": name},
                                         headers=headers, timeout=30)

        def by_web(browser: WebSession, token: str, name: str):
            return lambda: browser.post_form("/clients/new", {"name": name}, token=token,
                                             headers=CLOSE)

        for n in range(ROUNDS):
            responses = race(
                [by_api(s.format(n=n)) for s in API_SPELLINGS]
                + [by_web(b, t, s.format(n=n))
                   for b, t, s in zip(browsers, tokens, WEB_SPELLINGS)])
            assert not [r for r in responses if isinstance(r, Exception)], responses
            api, web = responses[:len(API_SPELLINGS)], responses[len(API_SPELLINGS):]
            won = [r for r in api if r.status_code == 201] + [r for r in web if r.status_code == 302]
            assert len(won) == 1, f"round {n}: {[r.status_code for r in responses]}"
            refused_api = [r for r in api if r.status_code != 201]
            refused_web = [r for r in web if r.status_code != 302]
            assert all(r.status_code == 409
                       and r.json()["error"]["message"] == catalog.CLIENT_NAME_TAKEN
                       for r in refused_api), f"round {n}: {[r.text for r in refused_api]}"
            assert all(r.status_code == 200 and catalog.CLIENT_NAME_TAKEN in r.text
                       for r in refused_web), f"round {n}: {[r.status_code for r in refused_web]}"
            clients = _clients(app)
            in_round = [name for name, key in clients if key == name_key_digest(f"Acme {n}")]
            assert len(in_round) == 1, f"round {n}: {in_round}"
            assert len(clients) == n + 1, f"round {n}: {len(clients)} clients"
