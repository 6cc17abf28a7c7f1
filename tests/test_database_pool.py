"""Pooled PostgreSQL connections: tested before use only after sitting idle (a restart or an
idle timeout closes those), never on every checkout (a round trip per request)."""

from __future__ import annotations

import time

import psycopg
import pytest

from app import database
from tests.conftest import reset_postgres


@pytest.fixture
def database_url(postgres_url):
    yield postgres_url
    reset_postgres(postgres_url)


@pytest.fixture
def pings(ready_app, monkeypatch):
    """How often the app's dialect pinged a connection."""
    from app.extensions import db

    with ready_app.app_context():
        dialect = db.engine.dialect
    count = {"pings": 0}
    real_ping = dialect.do_ping

    def counting_ping(dbapi_connection):
        count["pings"] += 1
        return real_ping(dbapi_connection)

    monkeypatch.setattr(dialect, "do_ping", counting_ping)
    monkeypatch.setattr(database, "POOL_PING_AFTER_IDLE_SECONDS", IDLE_SECONDS)
    return count


IDLE_SECONDS = 0.3  # the tests' idle threshold: short, because they wait it out


def _sit_idle() -> None:
    # Idleness is measured on the clock: the threshold must really pass (no condition to poll).
    time.sleep(IDLE_SECONDS + 0.1)


def _terminate_connections_to(url: str) -> int:
    name = url.rsplit("/", 1)[1]
    admin = url.rsplit("/", 1)[0].replace("postgresql+psycopg://", "postgresql://") + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        return len(conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()", (name,)).fetchall())


def test_a_connection_the_server_closed_while_idle_is_replaced_before_a_request_uses_it(
        ready_app, database_url, pings):
    client = ready_app.test_client()
    assert client.get("/readyz").status_code == 200  # leaves a connection in the pool
    _sit_idle()
    assert _terminate_connections_to(database_url) >= 1  # what a server restart does
    response = client.get("/readyz")
    assert response.status_code == 200, response.get_json()
    assert pings["pings"] >= 1


def test_a_connection_used_a_moment_ago_is_not_pinged(ready_app, pings, monkeypatch):
    client = ready_app.test_client()
    # "A moment ago" however slow this machine is: a request here may take longer than
    # the short threshold the second half waits out.
    monkeypatch.setattr(database, "POOL_PING_AFTER_IDLE_SECONDS", 60.0)
    assert client.get("/readyz").status_code == 200
    for _ in range(5):
        assert client.get("/readyz").status_code == 200
    assert pings["pings"] == 0
    monkeypatch.setattr(database, "POOL_PING_AFTER_IDLE_SECONDS", IDLE_SECONDS)
    _sit_idle()
    assert client.get("/readyz").status_code == 200
    assert pings["pings"] == 1
