"""Hardening headers on every response, and a cap on request bodies."""

from __future__ import annotations


def test_pages_forbid_framing_sniffing_and_foreign_scripts(client):
    response = client.get("/login")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"


def test_oversized_form_posts_are_refused(client):
    response = client.post("/login", data={"username": "x" * (2 * 1024 * 1024), "password": "p"})
    assert response.status_code == 413
