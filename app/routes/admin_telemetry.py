"""Admin → Telemetry: every layer's state and why, the next heartbeat, what was sent."""

from __future__ import annotations

import json

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from ..auth import admin_required
from ..telemetry import ConsentRefused, client
from ..telemetry.catalogue import EVENTS, EXAMPLE_PSEUDONYM
from ..telemetry.outbox import recent
from ..telemetry.store import StoreUnavailable

bp = Blueprint("admin_telemetry", __name__, url_prefix="/admin/telemetry")


@bp.get("")
@admin_required
def telemetry():
    telemetry_client = client()
    return render_template(
        "admin/telemetry.html", status=telemetry_client.status(),
        disclosure=telemetry_client.disclosure(),
        examples=[dict(example, json=json.dumps(example, indent=2, sort_keys=True))
                  for example in telemetry_client.example_payloads()],
        next_heartbeat=json.dumps(telemetry_client.preview(), indent=2, sort_keys=True),
        sent=[dict(item, payload=json.dumps(item["payload"], indent=2, sort_keys=True))
              for item in recent(50)],
        catalogue=sorted(EVENTS.values(), key=lambda event: (event.layer, event.name)),
        example_pseudonym=EXAMPLE_PSEUDONYM,
    )


@bp.post("/detailed-analytics")
@admin_required
def set_detailed_analytics():
    """Set (never toggle) the choice: the form says which value it wants, and names the
    catalogue version this page showed (its changes, when paused), which an opt-in accepts."""
    wanted = request.form.get("enabled")
    if wanted not in ("on", "off"):
        flash("Choose on or off.", "error")
        return redirect(url_for(".telemetry")), 303
    enabled = wanted == "on"
    if not _save(enabled, "admin page"):
        return redirect(url_for(".telemetry")), 303
    flash("Detailed analytics " + ("turned on." if enabled else "turned off."), "success")
    return redirect(url_for(".telemetry")), 303


@bp.post("/accept-catalogue")
@admin_required
def accept_catalogue():
    """Resume detailed analytics under the catalogue the admin just read (the form names its
    version: accepting a page that went stale while a new version shipped changes nothing)."""
    telemetry_client = client()
    if telemetry_client.state().telemetry_enabled is not True:
        flash("Nothing to accept: reload the page and read the changes first.", "error")
        return redirect(url_for(".telemetry")), 303
    if _save(True, f"accepted catalogue {telemetry_client.catalogue_version}"):
        flash("Detailed analytics resumed under the new catalogue.", "success")
    return redirect(url_for(".telemetry")), 303


def _save(enabled: bool, how: str) -> bool:
    """The choice with the version the form was rendered with; False: refused (flashed)."""
    try:
        client().set_consent(enabled, changed_by=f"user:{current_user.id} ({how})",
                             actor=current_user,
                             # No version (a scripted post): a fresh opt-in only, never an acceptance.
                             shown_version=request.form.get("version") or None)
    except StoreUnavailable:
        flash("The choice could not be saved: the database is unavailable.", "error")
        return False
    except ConsentRefused as exc:
        flash(str(exc), "error")
        return False
    return True


@bp.post("/feature-flags")
@admin_required
def set_feature_flag():
    """Admin → Settings: override one flag (on / off) or go back to its default."""
    from ..telemetry.flags import FLAGS, set_override

    name, value = request.form.get("name", ""), request.form.get("value", "")
    if name not in FLAGS or value not in ("on", "off", "default"):
        flash("Unknown flag or value.", "error")
        return redirect(url_for("admin.settings")), 303
    set_override(name, None if value == "default" else value == "on")
    flash(f"Feature flag {name} set to {value}.", "success")
    return redirect(url_for("admin.settings")), 303
