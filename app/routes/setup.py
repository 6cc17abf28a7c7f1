"""The first-run setup wizard, and the guard that sends every page to it until done."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for

from ..services import setup as setup_service
from ..services.errors import ServiceError
from ..services.settings import get_settings
from ..services.validation import timezone_names
from ._helpers import FORM_INVALID, attach_error
from .auth import sign_in
from .forms import SetupForm

bp = Blueprint("setup", __name__)

# Endpoints reachable before setup: the wizard itself, its assets, probes and metrics.
_OPEN_BEFORE_SETUP = {"static", "health.healthz", "health.readyz", "observability.metrics"}


def setup_is_complete() -> bool:
    """Cached per process once true: setup can never become incomplete again."""
    if current_app.extensions.get("tt_setup_complete"):
        return True
    done = setup_service.is_setup_complete()
    if done:
        current_app.extensions["tt_setup_complete"] = True
    return done


@bp.before_app_request
def redirect_until_setup_complete():
    endpoint = request.endpoint or ""
    if endpoint in _OPEN_BEFORE_SETUP or endpoint.startswith("setup."):
        return None
    if not setup_is_complete():
        if request.path.startswith("/api/"):  # API clients get JSON, not the wizard
            from .api import json_error

            return json_error(503)
        return redirect(url_for("setup.wizard"))
    return None


@bp.route("/setup", methods=["GET", "POST"])
def wizard():
    if setup_is_complete():
        return redirect(url_for("main.dashboard"))
    form = SetupForm()
    form.timezone.choices = timezone_names()
    if request.method == "GET":
        form.timezone.data = get_settings().default_timezone
    if form.validate_on_submit():
        try:
            admin = setup_service.complete_setup(
                admin_username=form.admin_username.data,
                admin_password=form.admin_password.data,
                admin_email=form.admin_email.data,
                company_name=form.company_name.data,
                timezone=form.timezone.data,
                allow_analytics=form.allow_analytics.data,
            )
        except ServiceError as exc:
            attach_error(form, _map_field(exc))
        else:
            current_app.extensions["tt_setup_complete"] = True
            sign_in(admin)  # with a fresh CSRF token, as every sign-in
            flash("Setup complete. Welcome to TimeTracker!", "success")
            return redirect(url_for("main.dashboard"))
    return render_template("setup.html", form=form), FORM_INVALID if form.errors else 200


def _map_field(exc: ServiceError) -> ServiceError:
    """User-service fields are named without the wizard's ``admin_`` prefix."""
    if exc.field in {"username", "password", "email"}:
        exc.field = f"admin_{exc.field}"
    return exc
