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
    current = settings_service.get_settings()
    form = SettingsForm(obj=current)
    form.default_timezone.choices = timezone_names()
    form.currency.choices = list(settings_service.CURRENCIES)
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                wanted, stored_choice = bool(form.allow_analytics.data), current.allow_analytics
                # An opt-out is stored before the save is announced, an opt-in after it:
                # nothing of the save that turns analytics off may leave.
                if not wanted:
                    _save_analytics_choice(wanted, stored_choice)
                settings_service.update_settings(
                    company_name=form.company_name.data,
                    default_timezone=form.default_timezone.data,
                    currency=form.currency.data, actor=current_user,
                )
                if wanted:
                    _save_analytics_choice(wanted, stored_choice)
            except ServiceError as exc:
                attach_error(form, exc)
            else:
                flash("Settings saved.", "success")
                return redirect(url_for("admin.settings"))
        return render_template("admin/settings.html", form=form), FORM_INVALID
    return render_template("admin/settings.html", form=form)


def _save_analytics_choice(wanted: bool, stored: bool | None) -> None:
    """The consent checkbox goes to the telemetry client, the one writer of consent.

    An unticked box on a form saved for another reason is not an opt-out of a choice
    never made: "not asked yet" stays so until the box is ticked.
    """
    if stored is None and not wanted:
        return
    from ..telemetry import client
    from ..telemetry.store import StoreUnavailable

    try:
        client().set_consent(wanted, changed_by=f"user:{current_user.id} (settings)",
                             actor=current_user)
    except StoreUnavailable:
        raise ServiceError("The analytics choice could not be saved (the database is "
                           "unavailable); nothing was changed.", "allow_analytics") from None
