"""``/api/v1/admin/telemetry``: read and set the detailed-analytics choice (admin token)."""

from __future__ import annotations

from flask import jsonify

from ...telemetry import ConsentRefused, client
from ...telemetry.store import StoreUnavailable
from ._core import ApiError, api_user, bp, json_body, require_admin


def _status() -> dict:
    telemetry = client()
    status = telemetry.status()
    body = {key: status[key] for key in ("detailed_analytics", "install_id", "base", "analytics",
                                         "changed_by", "changed_at", "first_seen_sent_at",
                                         "last_heartbeat_day", "catalogue_version",
                                         "consented_catalogue_version", "catalogue_changes",
                                         "recipient")}
    body["examples"] = telemetry.example_payloads()
    body["next_heartbeat"] = telemetry.preview()
    return body


@bp.get("/admin/telemetry")
def get_telemetry():
    require_admin()
    return jsonify(_status())


@bp.put("/admin/telemetry")
def put_telemetry():
    """Set (never toggle) detailed analytics: ``{"detailed_analytics": true|false}``.

    ``catalogue_version`` (the one ``GET`` answered, with its ``catalogue_changes``) accepts
    that catalogue; without it an opt-in is a fresh one, refused (409) while an opt-in for an
    older catalogue is stored, so no client accepts changes it was not shown.
    """
    require_admin()
    data = json_body({"detailed_analytics": ("boolean", True), "catalogue_version": ("string", False)})
    user = api_user()
    try:
        client().set_consent(data["detailed_analytics"], changed_by=f"user:{user.id} (api)",
                             actor=user, shown_version=data.get("catalogue_version"))
    except StoreUnavailable:
        raise ApiError(503, "The database is unavailable; nothing was changed.",
                       "unavailable") from None
    except ConsentRefused as exc:
        raise ApiError(409, str(exc), "catalogue_not_accepted", "catalogue_version") from None
    return jsonify(_status())
