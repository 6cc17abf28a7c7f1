"""Sign in and out (local accounts and optional OIDC), and the user's own profile."""

from __future__ import annotations

import hashlib
import time
from datetime import datetime, timezone

from flask import (
    Blueprint, abort, current_app, flash, g, redirect, render_template, request, session, url_for,
)
from authlib.integrations.flask_client import OAuth
from flask_limiter.util import get_remote_address
from limits.strategies import FixedWindowRateLimiter
from flask_login import current_user, login_required, login_user, logout_user

from ..extensions import limiter
from ..services import users as user_service
from ..services.errors import ServiceError
from ..services.validation import timezone_names
from ._helpers import FORM_INVALID, attach_error, safe_next
from .forms import LoginForm, PasswordChangeForm, ProfileForm

bp = Blueprint("auth", __name__)


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


def _refund_login_attempt() -> None:
    """Give back the attempt the limits counted, for a POST that was no wrong password
    (a good login, a form without its fields): only failures are meant to count.

    The limits count every attempt *before* the password is checked (Flask-Limiter's
    ``hit``: one atomic increment in the storage, then the decision). Counting only
    failures afterwards (``deduct_when``) tested first and counted later, so 40
    parallel guesses all passed the test while the count was below 5 and 10-12 got
    to the password check. Refunding keeps "failures only" without that window. The
    login limits are fixed windows (the strategy the app uses), whose count this
    decrements; a window that ended meanwhile is left alone.
    """
    strategy = limiter.limiter
    if not isinstance(strategy, FixedWindowRateLimiter):
        return
    for request_limit in limiter.current_limits:
        if request_limit.breached:
            continue
        try:
            if strategy.storage.get(request_limit.key) > 0:
                strategy.storage.incr(request_limit.key, request_limit.limit.get_expiry(),
                                      amount=-1)
        except Exception as exc:  # a storage hiccup must not fail a good sign-in
            current_app.logger.warning("login limit refund failed",
                                       extra={"reason": type(exc).__name__})


def _username_digest(username: str | None) -> str:
    typed = user_service.normalize_username(username)
    return hashlib.sha256(typed.encode()).hexdigest()[:32]


def _account_key() -> str:
    # Keyed on a hash so the limiter's storage never holds typed usernames.
    return "acct:" + _username_digest(request.form.get("username"))


# A "known device" cookie (OWASP's device cookies): set when a browser signs in with a
# password, it names the account (as a hash) and is signed with the secret key. The
# per-address limit does not apply to an attempt for that account from that browser,
# so colleagues behind one address keep signing in while someone there guesses
# passwords. The per-account limit still applies to everyone.
DEVICE_COOKIE = "tt_device"
DEVICE_COOKIE_DAYS = 180


def _device_serializer():
    from itsdangerous import URLSafeTimedSerializer

    return URLSafeTimedSerializer(current_app.secret_key, salt="tt-login-device")


def _known_device() -> bool:
    """True when this browser signed in to the account being tried before."""
    cookie = request.cookies.get(DEVICE_COOKIE)
    if not cookie or request.method != "POST":
        return False
    from itsdangerous import BadSignature

    try:
        digests = _device_serializer().loads(cookie, max_age=DEVICE_COOKIE_DAYS * 86400)
    except BadSignature:
        return False
    return isinstance(digests, list) and _username_digest(request.form.get("username")) in digests


def _remember_device(response, username: str):
    from itsdangerous import BadSignature

    digests = []
    cookie = request.cookies.get(DEVICE_COOKIE)
    if cookie:
        try:
            digests = list(_device_serializer().loads(cookie, max_age=DEVICE_COOKIE_DAYS * 86400))
        except (BadSignature, TypeError):
            digests = []
    digest = _username_digest(username)
    digests = ([d for d in digests if d != digest] + [digest])[-5:]  # a shared computer: a few
    response.set_cookie(
        DEVICE_COOKIE, _device_serializer().dumps(digests), max_age=DEVICE_COOKIE_DAYS * 86400,
        httponly=True, samesite="Lax", secure=current_app.config.get("SESSION_COOKIE_SECURE", False),
        path=url_for("auth.login"),
    )
    return response


# When the last single sign-on of this session happened (epoch seconds): setting a local
# password on an SSO-only account needs a recent one (users.SSO_REAUTH_MAX_AGE).
SSO_SIGNED_IN_AT = "sso_signed_in_at"
_SSO_NEXT = "sso_next"


def sign_in(user, remember: bool = False) -> None:
    """Start a session for ``user`` with a fresh CSRF token.

    The token a visitor held before signing in (possibly planted, or seen on a
    shared machine) must not stay valid for the signed-in session: Flask-WTF
    keeps the raw token in the session and caches it on ``g``, so both go and
    the next form gets a new one.
    """
    field = current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token")
    session.pop(field, None)
    g.pop(field, None)
    # A single sign-on's time belongs to that sign-in only (the callback sets it after).
    session.pop(SSO_SIGNED_IN_AT, None)
    login_user(user, remember=remember)


def _had_remember_cookie() -> bool:
    return bool(request.cookies.get(current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token")))


def _throttled(_limit) -> None:
    # A refused attempt is a failed sign-in like any other, for telemetry and the log.
    user_service.record_refused_sign_in("throttled")


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(
    lambda: current_app.config["LOGIN_RATE_LIMIT_PER_ADDRESS"], methods=["POST"],
    key_func=get_remote_address, scope="login-address",
    on_breach=_throttled,
    exempt_when=_known_device,
)
@limiter.limit(
    lambda: current_app.config["LOGIN_RATE_LIMIT_PER_ACCOUNT"], methods=["POST"],
    key_func=_account_key, scope="login-account",
    on_breach=_throttled,
)
def login():
    if current_user.is_authenticated:
        if request.method == "POST":
            _refund_login_attempt()
        return redirect(url_for("main.dashboard"))
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        try:
            user = user_service.authenticate(form.username.data, form.password.data)
        except user_service.AuthenticationFailed as exc:
            # The reason is logged; the username typed is not (it may be a password).
            current_app.logger.info("login failed", extra={"reason": exc.reason})
            flash("Invalid username or password.", "error")
            status = FORM_INVALID
        else:
            _refund_login_attempt()
            sign_in(user, remember=form.remember.data)
            return _remember_device(
                redirect(safe_next(request.args.get("next")) or url_for("main.dashboard")),
                user.username)
    elif form.is_submitted():
        _refund_login_attempt()  # no password was checked
        status = FORM_INVALID
    return render_template("auth/login.html", form=form, oidc=oidc_enabled()), status


@bp.post("/logout")
@login_required
def logout():
    # Signing out here signs out everywhere: every other session and remember-me
    # cookie of this user ends too (docs/using.md). The profile's "Sign out everywhere"
    # (revoke_tokens=y) ends the API tokens as well; the top bar's button keeps them.
    user_service.sign_out_everywhere(
        current_user, revoke_tokens=request.form.get("revoke_tokens") == "y")
    logout_user()
    flash("You have been signed out.", "info")
    return redirect(url_for("auth.login"))




def _sso_signed_in_at() -> datetime | None:
    value = session.get(SSO_SIGNED_IN_AT)
    if not isinstance(value, int):
        return None
    return datetime.fromtimestamp(value, timezone.utc)


@bp.get("/login/oidc")
def oidc_login():
    if not oidc_enabled():
        abort(404)
    session[_SSO_NEXT] = safe_next(request.args.get("next"))
    return _oidc_client().authorize_redirect(url_for("auth.oidc_callback", _external=True))


@bp.get("/login/oidc/callback")
def oidc_callback():
    if not oidc_enabled():
        abort(404)
    try:
        token = _oidc_client().authorize_access_token()
    except Exception as exc:  # Authlib raises several error types for a bad callback
        current_app.logger.warning("oidc login failed", extra={"reason": type(exc).__name__})
        user_service.record_refused_sign_in("other")
        flash("Single sign-on failed. Try again or use your password.", "error")
        return redirect(url_for("auth.login"))
    claims = token.get("userinfo")
    try:
        user = user_service.user_for_oidc(claims if isinstance(claims, dict) else {})
    except ServiceError as exc:
        user_service.record_refused_sign_in("other")
        flash(exc.message, "error")
        return redirect(url_for("auth.login"))
    if not user.is_active:
        user_service.record_refused_sign_in("inactive")
        flash("This account is deactivated.", "error")
        return redirect(url_for("auth.login"))
    user_service.record_login(user, method="oidc")
    next_page = session.pop(_SSO_NEXT, None)
    sign_in(user)
    session[SSO_SIGNED_IN_AT] = int(time.time())
    return redirect(next_page or url_for("main.dashboard"))


NEXT_THEME = {"auto": "dark", "dark": "light", "light": "auto"}


@bp.post("/profile/theme")
@login_required
def cycle_theme():
    """The top bar's colour-scheme button: auto → dark → light → auto, kept per user."""
    user_service.set_theme(current_user, NEXT_THEME.get(current_user.theme, "auto"))
    return redirect(safe_next(request.form.get("next")) or url_for("main.dashboard"))


@bp.route("/profile", methods=["GET", "POST"])
@login_required
def profile():
    form = ProfileForm(prefix="profile", obj=current_user)
    password_form = PasswordChangeForm(prefix="password")
    form.timezone.choices = timezone_names()
    status, needs_sso = 200, False
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
                    revoke_tokens=password_form.revoke_tokens.data,
                    sso_signed_in_at=_sso_signed_in_at(),
                )
            except ServiceError as exc:
                attach_error(password_form, exc)
                needs_sso = isinstance(exc, user_service.ReauthenticationRequired)
            else:
                # Every session ended with the change; this one continues signed in (and
                # sign_in forgets the single sign-on time: one password per fresh sign-in).
                sign_in(current_user._get_current_object(), remember=_had_remember_cookie())
                flash("Password changed. Every other session has been signed out"
                      + (" and your API tokens revoked." if password_form.revoke_tokens.data
                         else "."), "success")
                return redirect(url_for("auth.profile"))
        status = FORM_INVALID
    return render_template("auth/profile.html", form=form, password_form=password_form,
                           needs_sso=needs_sso and oidc_enabled()), status
