"""The admin panel: users and system settings. Every view here is admins-only."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from ..auth import admin_required
from ..services import settings as settings_service
from ..services import users as user_service
from ..services.errors import NotFound, ServiceError
from ..services.validation import timezone_names
from ._helpers import FORM_INVALID, attach_error
from .forms import ResetPasswordForm, SettingsForm, UserCreateForm, UserEditForm

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.get("")
@admin_required
def index():
    return redirect(url_for("admin.users"))


@bp.get("/users")
@admin_required
def users():
    return render_template("admin/users.html", users=user_service.list_users())


@bp.route("/users/new", methods=["GET", "POST"])
@admin_required
def new_user():
    form = UserCreateForm()
    form.timezone.choices = timezone_names()
    if request.method == "GET":
        form.timezone.data = settings_service.get_settings().default_timezone
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                user_service.create_user(
                    username=form.username.data, password=form.password.data,
                    role=form.role.data, email=form.email.data,
                    display_name=form.display_name.data, timezone=form.timezone.data,
                )
            except ServiceError as exc:
                attach_error(form, exc)
            else:
                flash("User created.", "success")
                return redirect(url_for("admin.users"))
        return render_template("admin/user_new.html", form=form), FORM_INVALID
    return render_template("admin/user_new.html", form=form)


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@admin_required
def edit_user(user_id: int):
    try:
        user = user_service.get_user(user_id)
    except NotFound:
        abort(404)
    form = UserEditForm(prefix="user", obj=user)
    password_form = ResetPasswordForm(prefix="reset")
    status = 200
    if request.method == "POST" and "user-role" in request.form:
        if form.validate_on_submit():
            try:
                user_service.update_user(
                    current_user, user.id, role=form.role.data, active=form.active.data
                )
            except ServiceError as exc:
                attach_error(form, exc)
            else:
                flash("User updated.", "success")
                return redirect(url_for("admin.users"))
        status = FORM_INVALID
    elif request.method == "POST":
        if password_form.validate_on_submit():
            try:
                user_service.reset_password(user.id, password_form.new_password.data,
                                            revoke_tokens=password_form.revoke_tokens.data)
            except ServiceError as exc:
                attach_error(password_form, exc)
            else:
                if user.id == current_user.id:  # resetting one's own: stay signed in here
                    from .auth import sign_in

                    sign_in(user)
                flash("Password reset. Tell the user their new password privately.", "success")
                return redirect(url_for("admin.users"))
        status = FORM_INVALID
    return (
        render_template("admin/user_edit.html", user=user, form=form, password_form=password_form),
        status,
    )


@bp.route("/settings", methods=["GET", "POST"])
@admin_required
def settings():
    from ..telemetry import ConsentRefused, client

    current = settings_service.get_settings()
    telemetry = client()
    form = SettingsForm(obj=current)
    form.default_timezone.choices = timezone_names()
    form.currency.choices = list(settings_service.CURRENCIES)
    # The box shows what is in effect: ticked only while the opt-in holds for this very
    # catalogue (a paused opt-in renders unticked, with the notice linking to the changes).
    in_effect = telemetry.consent_in_effect()
    shown = _shown_box(in_effect)
    page = {"analytics_shown": shown, "analytics_paused": telemetry.consent_paused()}
    if request.method == "GET":
        form.allow_analytics.data = in_effect
    if request.method == "POST":
        if form.validate_on_submit():
            wanted = bool(form.allow_analytics.data)
            # Only a box the admin changed is a choice; one posted as rendered changes nothing.
            choice = None if wanted == shown else wanted
            try:
                # An opt-out is stored before the save is announced, an opt-in after it:
                # nothing of the save that turns analytics off may leave.
                if choice is False:
                    _save_analytics_choice(False)
                settings_service.update_settings(
                    company_name=form.company_name.data,
                    default_timezone=form.default_timezone.data,
                    currency=form.currency.data, actor=current_user,
                )
                if choice is True:
                    _save_analytics_choice(True)
            except ServiceError as exc:
                attach_error(form, exc)
            except ConsentRefused as exc:
                # The other settings are saved; the opt-in waits for the review of the changes.
                flash("Settings saved.", "success")
                flash(str(exc), "error")
                return redirect(url_for("admin_telemetry.telemetry"), code=303)
            else:
                flash("Settings saved.", "success")
                return redirect(url_for("admin.settings"))
        return render_template("admin/settings.html", form=form, **page), FORM_INVALID
    return render_template("admin/settings.html", form=form, **page)


def _shown_box(in_effect: bool) -> bool:
    """What the posted page rendered the consent box as (its hidden field); a form without
    it is compared with what the page would render now."""
    rendered = request.form.get("allow_analytics_shown")
    return in_effect if rendered not in ("0", "1") else rendered == "1"


def _save_analytics_choice(wanted: bool) -> None:
    """A changed consent box goes to the telemetry client, the one writer of consent.

    This page never shows the catalogue's changes, so its opt-in is a fresh one only: while
    an opt-in for an older catalogue is stored, the client refuses it (``ConsentRefused``)
    and the admin is sent to Admin → Telemetry, where the changes are shown and accepted.
    """
    from ..telemetry import client
    from ..telemetry.store import StoreUnavailable

    try:
        client().set_consent(wanted, changed_by=f"user:{current_user.id} (settings)",
                             actor=current_user)
    except StoreUnavailable:
        raise ServiceError("The analytics choice could not be saved (the database is "
                           "unavailable); nothing was changed.", "allow_analytics") from None
