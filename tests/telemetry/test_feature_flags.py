"""Feature flags: code defaults, admin overrides in Admin → Settings, FEATURE_FLAGS wins."""

from __future__ import annotations

import json
import re

from flask import Blueprint

from app import create_app  # noqa: F401  (the factory under test)
from app.config import ConfigError, parse_feature_flags
from app.telemetry import feature_flag_required, get_feature_flag

import pytest


def test_feature_flags_env_parsing_is_strict():
    assert parse_feature_flags("FEATURE_FLAGS", "reports_page=off, dashboard_week_chart=on") == {
        "reports_page": False, "dashboard_week_chart": True}
    assert parse_feature_flags("FEATURE_FLAGS", "") == {}
    for bad in ("reports_page", "reports_page=maybe", "a b=on"):
        with pytest.raises(ConfigError):
            parse_feature_flags("FEATURE_FLAGS", bad)


def test_admin_override_applies_at_once_and_env_beats_it(admin_client, user_client):
    app = admin_client.application
    with app.test_request_context("/"):
        assert get_feature_flag(None, "dashboard_week_chart") is False
        assert get_feature_flag(None, "no_such_flag", default=True) is True
    response = admin_client.post_form("/admin/telemetry/feature-flags",
                                      {"name": "dashboard_week_chart", "value": "on"},
                                      token_page="/admin/settings")
    assert response.status_code == 303
    page = admin_client.get("/admin/settings").get_data(as_text=True)
    assert re.search(r'data-testid="flag-dashboard_week_chart">on<', page)
    # Templates and JS see the flags.
    flags = json.loads(re.search(r'<script id="feature-flags" type="application/json">(.*?)</script>',
                                 user_client.get("/").get_data(as_text=True)).group(1))
    assert flags["dashboard_week_chart"] is True
    # Users cannot set flags; the CSRF token is required.
    assert user_client.post_form("/admin/telemetry/feature-flags",
                                 {"name": "reports_page", "value": "off"}).status_code == 403
    assert admin_client.post("/admin/telemetry/feature-flags",
                             data={"name": "reports_page", "value": "off"}).status_code == 400


def test_env_flag_beats_admin_override_and_guards_routes(app_factory):
    app = app_factory(FEATURE_FLAGS={"dashboard_week_chart": False, "reports_page": True})
    bp = Blueprint("flagged", __name__)

    @bp.get("/flagged")
    @feature_flag_required("dashboard_week_chart")
    def flagged():
        return "ok"

    @bp.get("/flagged-on")
    @feature_flag_required("reports_page")
    def flagged_on():
        return "ok"

    app.register_blueprint(bp)
    from app.services.setup import complete_setup
    from app.telemetry.flags import set_override

    with app.test_request_context("/"):
        complete_setup(admin_username="admin", admin_password="correct-horse-battery",
                       allow_analytics=False)
        set_override("dashboard_week_chart", True)
        assert get_feature_flag(None, "dashboard_week_chart") is False
    client = app.test_client()
    assert client.get("/flagged").status_code == 404
    assert client.get("/flagged-on").data == b"ok"
