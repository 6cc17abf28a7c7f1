"""Sign in and out (local accounts and optional OIDC), and the user's own profile."""

from __future__ import annotations

import hashlib
from urllib.parse import urlsplit

from flask import (
    Blueprint, abort, current_app, flash, g, redirect, render_template, request, url_for,
)
from authlib.integrations.flask_client import OAuth
from flask_limiter.util import get_remote_address
from flask_login import current_user, login_required, login_user, logout_user

from ..extensions import limiter
from ..telemetry import track_event
from ..services import users as user_service
from ..services.errors import ServiceError
from ..services.validation import timezone_names
from ._helpers import FORM_INVALID, attach_error
from .forms import LoginForm, PasswordChangeForm, ProfileForm

bp = Blueprint("auth", __name__)


# Telemetry gets a fixed reason, never what was typed.
_FAILURE_REASONS = {"unknown_user": "bad_credentials", "bad_password": "bad_credentials",
                    "inactive": "inactive"}


def oidc_enabled() -> bool:
    cfg = current_app.config
    return bool(cfg.get("OIDC_ISSUER") and cfg.get("OIDC_CLIENT_ID") and cfg.get("OIDC_CLIENT_SECRET"))


def register_oidc(app) -> None:
    """Register the OIDC client with Authlib when all three settings are present.

    Authlib's ``OAuth`` keeps a reference to its app and caches clients by
    name, so each app gets its own instance instead of a shared singleton.
    """
    cfg = app.config
    if not (cfg.get("OIDC_ISSUER") and cfg.get("OIDC_CLIENT_ID") and cfg.get("OIDC_CLIENT_SECRET")):
        return
    oauth = OAuth(app)
    oauth.register(
        "oidc",
        client_id=cfg["OIDC_CLIENT_ID"],
        client_secret=cfg["OIDC_CLIENT_SECRET"],
        server_metadata_url=cfg["OIDC_ISSUER"].rstrip("/") + "/.well-known/openid-configuration",
        client_kwargs={"scope": cfg["OIDC_SCOPES"]},
    )


def _oidc_client():
    return current_app.extensions["authlib.integrations.flask_client"].oidc


def _login_failed(_response) -> bool:
    # Only failed attempts count against the limits; a good login costs nothing.
    return bool(g.get("login_failed"))


def _account_key() -> str:
    # Keyed on a hash so the limiter's storage never holds typed usernames.
    typed = user_service.normalize_username(request.form.get("username"))
    return "acct:" + hashlib.sha256(typed.encode()).hexdigest()[:32]


def _safe_next(target: str | None) -> str | None:
    """Only same-site relative paths: never an open redirect."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(
    lambda: current_app.config["LOGIN_RATE_LIMIT_PER_ADDRESS"], methods=["POST"],
    key_func=get_remote_address, deduct_when=_login_failed, scope="login-address",
)
@limiter.limit(
    lambda: current_app.config["LOGIN_RATE_LIMIT_PER_ACCOUNT"], methods=["POST"],
    key_func=_account_key, deduct_when=_login_failed, scope="login-account",
)
def login():
    if current_user.is_authenticated:
        return redirect(url_for("main.dashboard"))
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        try:
            user = user_service.authenticate(form.username.data, form.password.data)
        except user_service.AuthenticationFailed as exc:
            g.login_failed = True
            # The reason is logged; the username typed is not (it may be a password).
            current_app.logger.info("login failed", extra={"reason": exc.reason})
            track_event("auth.login_failed", {"reason": _FAILURE_REASONS.get(exc.reason, "other")})
            flash("Invalid username or password.", "error")
            status = FORM_INVALID
        else:
            login_user(user, remember=form.remember.data)
            track_event("auth.login", {"method": "password"}, user_id=user.id)
            return redirect(_safe_next(request.args.get("next")) or url_for("main.dashboard"))
    elif form.is_submitted():
        status = FORM_INVALID
    return render_template("auth/login.html", form=form, oidc=oidc_enabled()), status


@bp.post("/logout")
@login_required
def logout():
    track_event("auth.logout")
    logout_user()
    flash("You have been signed out.", "info")
    return redirect(url_for("auth.login"))


@bp.get("/login/oidc")
def oidc_login():
    if not oidc_enabled():
        abort(404)
    return _oidc_client().authorize_redirect(url_for("auth.oidc_callback", _external=True))


@bp.get("/login/oidc/callback")
def oidc_callback():
    if not oidc_enabled():
        abort(404)
    try:
        token = _oidc_client().authorize_access_token()
    except Exception as exc:  # Authlib raises several error types for a bad callback
        current_app.logger.warning("oidc login failed", extra={"reason": type(exc).__name__})
        flash("Single sign-on failed. Try again or use your password.", "error")
        return redirect(url_for("auth.login"))
    claims = token.get("userinfo") or {}
    if not claims.get("sub"):
        flash("Single sign-on returned no account id.", "error")
        return redirect(url_for("auth.login"))
    user = user_service.user_for_oidc(
        subject=str(claims["sub"]), email=claims.get("email"),
        preferred_username=claims.get("preferred_username") or claims.get("email", "").split("@")[0],
    )
    if not user.is_active:
        flash("This account is deactivated.", "error")
        return redirect(url_for("auth.login"))
    user_service.record_login(user)
    login_user(user)
    track_event("auth.login", {"method": "oidc"}, user_id=user.id)
    return redirect(url_for("main.dashboard"))


NEXT_THEME = {"auto": "dark", "dark": "light", "light": "auto"}


@bp.post("/profile/theme")
@login_required
def cycle_theme():
    """The top bar's colour-scheme button: auto → dark → light → auto, kept per user."""
    user_service.set_theme(current_user, NEXT_THEME.get(current_user.theme, "auto"))
    return redirect(_safe_next(request.form.get("next")) or url_for("main.dashboard"))


@bp.route("/profile", methods=["GET", "POST"])
@login_required
def profile():
    form = ProfileForm(prefix="profile", obj=current_user)
    password_form = PasswordChangeForm(prefix="password")
    form.timezone.choices = timezone_names()
    status = 200
    if request.method == "POST" and "profile-timezone" in request.form:
        if form.validate_on_submit():
            try:
                user_service.update_profile(
                    current_user, display_name=form.display_name.data, email=form.email.data,
                    timezone=form.timezone.data, hours_format=form.hours_format.data,
                    theme=form.theme.data,
                )
            except ServiceError as exc:
                attach_error(form, exc)
            else:
                flash("Profile saved.", "success")
                return redirect(url_for("auth.profile"))
        status = FORM_INVALID
    elif request.method == "POST":
        if password_form.validate_on_submit():
            try:
                user_service.change_password(
                    current_user,
                    current_password=password_form.current_password.data,
                    new_password=password_form.new_password.data,
                )
            except ServiceError as exc:
                attach_error(password_form, exc)
            else:
                flash("Password changed.", "success")
                return redirect(url_for("auth.profile"))
        status = FORM_INVALID
    return render_template("auth/profile.html", form=form, password_form=password_form), status
