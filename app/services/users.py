"""Accounts: creation, authentication, roles, passwords, profiles."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import func, select, update
from werkzeug.security import generate_password_hash

from .. import events
from ..extensions import db
from ..models import HOURS_FORMATS, ROLE_ADMIN, ROLES, THEMES, User
from ..models.types import utcnow
from . import api_tokens
from .errors import Conflict, Forbidden, NotFound, ValidationError, commit_or_conflict
from .locking import lock_rows
from .validation import clean_name, clean_timezone, strip_unsafe_characters

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 256
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,62}$")
# Checked against for unknown usernames so that a failed login takes as long
# whether or not the account exists (no user enumeration by timing).
_DUMMY_HASH = generate_password_hash("not-a-real-password")


class AuthenticationFailed(Exception):
    """Login refused. ``reason`` is for logs; users always see one generic message."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def normalize_username(value: str | None) -> str:
    # Through the text sanitiser first: a NUL typed at the login form would reach the
    # lookup, and PostgreSQL refuses NUL in text with an error (a 500), not a miss.
    return strip_unsafe_characters(value or "").strip().lower()


def clean_username(value: str | None) -> str:
    username = normalize_username(value)
    if not _USERNAME.match(username):
        raise ValidationError(
            "Username must be 2–63 characters: letters, digits, dot, dash or underscore.",
            "username",
        )
    return username


def clean_password(value: str | None, field: str = "password") -> str:
    password = value or ""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationError(
            f"Password must be at least {MIN_PASSWORD_LENGTH} characters.", field
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValidationError("Password is too long.", field)
    return password


def clean_email(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    try:
        return validate_email(value.strip(), check_deliverability=False).normalized
    except EmailNotValidError:
        raise ValidationError("Email address is not valid.", "email") from None


def clean_role(value: str | None) -> str:
    if value not in ROLES:
        raise ValidationError("Role must be admin or user.", "role")
    return value


def new_user(
    *,
    username: str,
    password: str | None,
    role: str,
    email: str | None = None,
    display_name: str | None = None,
    timezone: str = "UTC",
) -> User:
    """Validate and build an unsaved user (the caller adds and commits)."""
    username = clean_username(username)
    if db.session.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict("That username is taken.", "username")
    user = User(
        username=username,
        email=clean_email(email),
        display_name=clean_name(display_name, "display_name", 120) if display_name else None,
        role=clean_role(role),
        timezone=clean_timezone(timezone),
        active=True,
    )
    if password is not None:
        user.set_password(clean_password(password))
    return user


def create_user(**kwargs) -> User:
    """Create and save a user; see :func:`new_user` for the arguments."""
    user = new_user(**kwargs)
    db.session.add(user)
    commit_or_conflict("That username is taken.", "username")
    return user


def get_user(user_id: int) -> User:
    try:
        user_id = int(user_id)
    except (TypeError, ValueError):
        raise NotFound("User not found.") from None
    # A database integer holds 2**31 - 1 at most: larger ids are not found, not a 500.
    user = db.session.get(User, user_id) if 0 < user_id < 2**31 else None
    if user is None:
        raise NotFound("User not found.")
    return user


def find_by_username(username: str) -> User | None:
    return db.session.scalar(select(User).where(User.username == normalize_username(username)))


def authenticate(username: str, password: str) -> User:
    """Return the user for these credentials or raise :class:`AuthenticationFailed`.

    Either way the outcome is announced; what was typed never is.
    """
    user = find_by_username(username)
    try:
        if user is None:
            User(password_hash=_DUMMY_HASH).check_password(password or "")
            raise AuthenticationFailed("unknown_user")
        if not user.check_password(password or ""):
            raise AuthenticationFailed("bad_password")
        if not user.is_active:
            raise AuthenticationFailed("inactive")
    except AuthenticationFailed as exc:
        events.announce(events.sign_in_failed, reason=_PUBLIC_FAILURE_REASONS[exc.reason])
        raise
    record_login(user, method="password")
    return user


# What a subscriber may learn of a refused sign-in: never whether the account exists.
_PUBLIC_FAILURE_REASONS = {"unknown_user": "bad_credentials", "bad_password": "bad_credentials",
                           "inactive": "inactive"}


def record_refused_sign_in(reason: str) -> None:
    """Announce a sign-in refused outside :func:`authenticate`: by the rate limit
    (``throttled``), single sign-on for a deactivated account (``inactive``) or a failed
    single sign-on (``other``). Nothing typed or returned by the provider is part of it."""
    if reason not in ("throttled", "inactive", "other"):
        raise ValueError(f"unknown reason {reason!r}")
    events.announce(events.sign_in_failed, reason=reason)


def record_login(user: User, *, method: str) -> None:
    """Note a successful sign-in (``method``: password or oidc) and announce it."""
    user.last_login_at = utcnow()
    db.session.commit()
    events.announce(events.signed_in, actor=user, method=method)


def list_users() -> list[User]:
    return list(db.session.scalars(select(User).order_by(User.username)))


_ACTIVE_ADMIN = (User.role == ROLE_ADMIN, User.active.is_(True))
LAST_ADMIN = "There must always be at least one active admin."
NO_LONGER_ADMIN = "Your admin rights were removed meanwhile; nothing was changed."


def _active_admin_count() -> int:
    return db.session.scalar(select(func.count(User.id)).where(*_ACTIVE_ADMIN))


def end_sessions(user: User) -> None:
    """End every session and remember-me cookie of ``user`` (not committed).

    The generation is part of the id each cookie carries (``User.get_id``); the
    session loader refuses a cookie whose generation is not the current one. The
    increment is done in SQL, so two concurrent calls both count.
    """
    db.session.execute(
        update(User).where(User.id == user.id)
        .values(session_generation=User.session_generation + 1)
        .execution_options(synchronize_session=False)
    )
    db.session.expire(user, ["session_generation"])


def sign_out_everywhere(user: User, *, revoke_tokens: bool) -> None:
    """Every session of the user ends (this one too) and, with ``revoke_tokens``, every
    API token: what a user does who fears someone else holds a credential. Announced
    as signed out."""
    end_sessions(user)
    if revoke_tokens:
        api_tokens.revoke_all_tokens(user)
    db.session.commit()
    events.announce(events.signed_out, actor=user)


def update_user(
    actor: User, user_id: int, *, role: str, active: bool, timezone: str | None = None
) -> User:
    """Change a user's role and active flag; never locks the last admin out.

    "Is another admin left?" is read under the write lock of the active admins' rows:
    three admins demoting each other at once would otherwise each count three and
    all succeed (zero admins). The second request waits for the first to commit and
    counts what it left; the actor's own rights are read under the same lock.
    Deactivation ends the user's sessions and revokes their API tokens, so a
    later reactivation does not bring old cookies or tokens back to life.
    """
    role = clean_role(role)
    if timezone:
        timezone = clean_timezone(timezone)
    lock_rows(User, *_ACTIVE_ADMIN)
    user = get_user(user_id)
    db.session.refresh(user)  # what the lock holder committed, not what the route loaded
    db.session.refresh(actor)
    if not (actor.is_admin and actor.is_active):
        db.session.rollback()
        raise Forbidden(NO_LONGER_ADMIN, "role")
    losing_admin = user.is_admin and user.active and (role != ROLE_ADMIN or not active)
    if losing_admin and _active_admin_count() <= 1:
        db.session.rollback()
        raise ValidationError(LAST_ADMIN, "role")
    if user.id == actor.id and not active:
        db.session.rollback()
        raise ValidationError("You cannot deactivate your own account.", "active")
    if user.active and not active:
        end_sessions(user)
        api_tokens.revoke_all_tokens(user)
    user.role = role
    user.active = bool(active)
    if timezone:
        user.timezone = timezone
    db.session.commit()
    return user


def promote_to_admin(username: str) -> User:
    """Make ``username`` an active admin (the operator's way back when no admin is left:
    ``flask users promote``). Promoting an active admin changes nothing."""
    user = find_by_username(username)
    if user is None:
        raise NotFound(f"No user named {normalize_username(username)!r}.", "username")
    user.role = ROLE_ADMIN
    user.active = True
    db.session.commit()
    return user


def reset_password(user_id: int, new_password: str, *, revoke_tokens: bool) -> User:
    """An admin sets a new password: every session of that user ends and, with
    ``revoke_tokens`` (the form's default), every API token of theirs."""
    user = get_user(user_id)
    user.set_password(clean_password(new_password))
    end_sessions(user)
    if revoke_tokens:
        api_tokens.revoke_all_tokens(user)
    db.session.commit()
    return user


def update_profile(
    user: User, *, display_name: str | None, email: str | None, timezone: str,
    hours_format: str | None = None, theme: str | None = None,
) -> User:
    """Save the user's own details and preferences; None leaves a preference as it is."""
    user.display_name = clean_name(display_name, "display_name", 120) if display_name else None
    user.email = clean_email(email)
    user.timezone = clean_timezone(timezone)
    if hours_format is not None:
        if hours_format not in HOURS_FORMATS:
            raise ValidationError("Choose h:mm or decimal hours.", "hours_format")
        user.hours_format = hours_format
    if theme is not None:
        set_theme(user, theme, commit=False)
    db.session.commit()
    return user


def set_theme(user: User, theme: str, commit: bool = True) -> User:
    """The user's colour scheme: "auto" (the browser's preference), "light" or "dark"."""
    if theme not in THEMES:
        raise ValidationError("Theme must be auto, light or dark.", "theme")
    user.theme = theme
    if commit:
        db.session.commit()
    return user


# How recent a single sign-on must be for an account without a local password to set
# one: the time to come back from the provider and type it, and no more. Without it a
# stolen SSO session (a cookie on a shared computer) becomes a lasting password.
SSO_REAUTH_MAX_AGE = timedelta(minutes=5)
SSO_REAUTH_NEEDED = ("To set a password, sign in with single sign-on again first "
                     f"(at most {SSO_REAUTH_MAX_AGE.seconds // 60} minutes before).")


class ReauthenticationRequired(ValidationError):
    """The change needs a fresh single sign-on (the route offers the button)."""

    code = "reauthentication_required"


def change_password(user: User, *, current_password: str, new_password: str,
                    revoke_tokens: bool, sso_signed_in_at: datetime | None = None) -> None:
    """The user changes their password: every session ends (the caller signs the
    current one in again with the new generation) and, with ``revoke_tokens`` (the
    form's default), every API token.

    With a local password, the current one proves it is the user. An account without
    one (single sign-on only) proves it by a single sign-on at most
    :data:`SSO_REAUTH_MAX_AGE` ago (``sso_signed_in_at``, which the caller keeps).
    """
    if user.password_hash:
        if not user.check_password(current_password or ""):
            raise ValidationError("Current password is wrong.", "current_password")
    elif sso_signed_in_at is None or not (
            timedelta(0) <= utcnow() - sso_signed_in_at <= SSO_REAUTH_MAX_AGE):
        raise ReauthenticationRequired(SSO_REAUTH_NEEDED, "new_password")
    user.set_password(clean_password(new_password, "new_password"))
    end_sessions(user)
    if revoke_tokens:
        api_tokens.revoke_all_tokens(user)
    db.session.commit()


MAX_OIDC_SUBJECT_LENGTH = 255  # users.oidc_subject


def _claim(claims: Mapping, name: str) -> str | None:
    """A claim as a non-empty string, or None. Providers are trusted for identity, not
    for shapes: a list, number or object where a string belongs is as if absent (the
    next claim is used), never a 500."""
    value = claims.get(name)
    if not isinstance(value, str):
        return None
    value = strip_unsafe_characters(value).strip()
    return value or None


def user_for_oidc(claims: Mapping) -> User:
    """The account linked to the OIDC subject of ``claims`` (the provider's userinfo),
    created as a ``user`` on first login.

    Every claim is read here, as a string (:func:`_claim`): the username comes from
    ``preferred_username``, else the local part of ``email``, else "user"; the display
    name from ``name``. A subject that is no string refuses the sign-in
    (:class:`ValidationError`).
    """
    subject = _claim(claims, "sub")
    if subject is None or len(subject) > MAX_OIDC_SUBJECT_LENGTH:
        raise ValidationError("Single sign-on returned no account id.", "sub")
    user = db.session.scalar(select(User).where(User.oidc_subject == subject))
    if user is not None:
        return user
    email = _claim(claims, "email")
    preferred = _claim(claims, "preferred_username") or (email or "").split("@")[0]
    base = re.sub(r"[^a-z0-9._-]", "", normalize_username(preferred)) or "user"
    base = base[:50] if len(base) >= 2 else f"sso-{base}"
    username, n = base, 1
    while find_by_username(username) is not None:
        n += 1
        username = f"{base}-{n}"
    try:
        email = clean_email(email)
    except ValidationError:
        email = None
    try:
        display_name = clean_name(_claim(claims, "name"), "display_name", 120)
    except ValidationError:
        display_name = None
    user = User(username=username, email=email, display_name=display_name, role="user",
                oidc_subject=subject)
    db.session.add(user)
    commit_or_conflict("That account already exists.", "username")
    return user
