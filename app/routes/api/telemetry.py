"""``/api/v1/admin/telemetry``: read and set the detailed-analytics choice (admin token)."""

from __future__ import annotations

from flask import current_app, jsonify

from ...telemetry import service
from ...telemetry.installation import InstallationWriteError
from ._core import ApiError, api_user, bp, json_body, require_admin


def _status() -> dict:
    install = current_app.extensions[service.EXTENSION_KEY].installation.read()
    base, analytics = service.base_layer_state(), service.analytics_layer_state()
    return {
        "detailed_analytics": service.get_telemetry_preference(),
        "install_id": install.install_id,
        "base": {"enabled": base.enabled, "reason": base.reason},
        "analytics": {"enabled": analytics.enabled, "reason": analytics.reason},
    }


@bp.get("/admin/telemetry")
def get_telemetry():
    require_admin()
    return jsonify(_status())


@bp.put("/admin/telemetry")
def put_telemetry():
    """Set (never toggle) detailed analytics: ``{"detailed_analytics": true|false}``."""
    require_admin()
    data = json_body({"detailed_analytics": ("boolean", True)})
    try:
        service.set_telemetry_preference(data["detailed_analytics"],
                                         changed_by=f"user:{api_user().id} (api)")
    except InstallationWriteError:
        raise ApiError(409, "installation.json is not writable; nothing was changed.",
                       "conflict") from None
    return jsonify(_status())
