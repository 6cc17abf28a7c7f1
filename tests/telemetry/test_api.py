"""GET/PUT /api/v1/admin/telemetry with personal tokens."""

from __future__ import annotations

import json
from pathlib import Path

from app import telemetry


def _token(app, username):
    from app.services import api_tokens
    from app.services.users import find_by_username

    with app.app_context():
        return api_tokens.create_token(find_by_username(username), "t").secret


def test_admin_token_reads_and_sets_the_choice_users_get_403(ready_app, make_user):
    make_user("alice")
    client = ready_app.test_client()
    admin = {"Authorization": f"Bearer {_token(ready_app, 'admin')}"}
    user = {"Authorization": f"Bearer {_token(ready_app, 'alice')}"}
    body = client.get("/api/v1/admin/telemetry", headers=admin).get_json()
    assert body["detailed_analytics"] is False
    assert body["analytics"]["enabled"] is False
    for _ in range(2):  # a value, not a flip
        response = client.put("/api/v1/admin/telemetry", json={"detailed_analytics": True},
                              headers=admin)
        assert response.status_code == 200
        assert response.get_json()["detailed_analytics"] is True
    stored = json.loads((Path(ready_app.config["DATA_DIR"]) / "installation.json").read_text())
    assert stored["telemetry_enabled"] is True and stored["telemetry_changed_by"].endswith("(api)")
    with ready_app.app_context():
        from app.services.settings import get_settings

        assert get_settings().allow_analytics is True
    assert telemetry.client(ready_app).state().telemetry_enabled is True
    assert client.put("/api/v1/admin/telemetry", json={"detailed_analytics": "yes"},
                      headers=admin).status_code == 400
    assert client.get("/api/v1/admin/telemetry", headers=user).status_code == 403
    assert client.put("/api/v1/admin/telemetry", json={"detailed_analytics": False},
                      headers=user).status_code == 403
    assert client.get("/api/v1/admin/telemetry").status_code == 401
