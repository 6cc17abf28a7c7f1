"""Feature flags: code defaults, admin overrides in Admin → Settings, FEATURE_FLAGS wins."""

from __future__ import annotations

import json
import re

import pytest
from flask import Blueprint

from app.config import ConfigError, parse_feature_flags
from app.telemetry import feature_flag_required, get_feature_flag

from .conftest import complete_setup


def _flags_seen_by_templates(client) -> dict:
    page = client.get("/").get_data(as_text=True)
    return json.loads(re.search(r'<script id="feature-flags" type="application/json">(.*?)</script>',
                                page).group(1))


def test_feature_flags_env_parsing_is_strict():
    assert parse_feature_flags("FEATURE_FLAGS", "reports_page=off, other_flag=on") == {
        "reports_page": False, "other_flag": True}
    assert parse_feature_flags("FEATURE_FLAGS", "") == {}
    for bad in ("reports_page", "reports_page=maybe", "a b=on"):
        with pytest.raises(ConfigError):
            parse_feature_flags("FEATURE_FLAGS", bad)


def test_admin_override_applies_at_once_to_pages_templates_and_js(admin_client, user_client):
    app = admin_client.application
    with app.test_request_context("/"):
        assert get_feature_flag(None, "reports_page") is True  # the code default
        assert get_feature_flag(None, "no_such_flag", default=True) is True
    assert user_client.get("/reports").status_code == 200
    response = admin_client.post_form("/admin/telemetry/feature-flags",
                                      {"name": "reports_page", "value": "off"},
                                      token_page="/admin/settings")
    assert response.status_code == 303
    page = admin_client.get("/admin/settings").get_data(as_text=True)
    assert re.search(r'data-testid="flag-reports_page">off<', page)
    assert _flags_seen_by_templates(user_client)["reports_page"] is False
    assert user_client.get("/reports").status_code == 404
    admin_client.post_form("/admin/telemetry/feature-flags",
                           {"name": "reports_page", "value": "default"},
                           token_page="/admin/settings")
    assert user_client.get("/reports").status_code == 200
    # Users cannot set flags; the CSRF token is required; unknown flags are refused.
    assert user_client.post_form("/admin/telemetry/feature-flags",
                                 {"name": "reports_page", "value": "off"}).status_code == 403
    assert admin_client.post("/admin/telemetry/feature-flags",
                             data={"name": "reports_page", "value": "off"}).status_code == 400
    admin_client.post_form("/admin/telemetry/feature-flags",
                           {"name": "dashboard_week_chart", "value": "on"},
                           token_page="/admin/settings")
    assert "dashboard_week_chart" not in _flags_seen_by_templates(user_client)


def test_env_flag_beats_admin_override_and_guards_routes(app_factory):
    app = app_factory(FEATURE_FLAGS={"reports_page": False})
    bp = Blueprint("flagged", __name__)

    @bp.get("/flagged")
    @feature_flag_required("reports_page")
    def flagged():
        return "ok"

    app.register_blueprint(bp)
    from app.telemetry.flags import set_override

    complete_setup(app)
    with app.test_request_context("/"):
        set_override("reports_page", True)
        assert get_feature_flag(None, "reports_page") is False
    assert app.test_client().get("/flagged").status_code == 404
    switched_on = app_factory(FEATURE_FLAGS={"reports_page": True})
    switched_on.register_blueprint(bp)
    assert switched_on.test_client().get("/flagged").data == b"ok"
