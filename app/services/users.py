"""Accounts: creation, authentication, roles, passwords, profiles."""

from __future__ import annotations

import re

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import func, select
from werkzeug.security import generate_password_hash

from ..extensions import db
from ..models import HOURS_FORMATS, ROLE_ADMIN, ROLES, THEMES, User
from ..models.types import utcnow
from .errors import Conflict, NotFound, ValidationError, commit_or_conflict
from .validation import clean_name, clean_timezone

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
    return (value or "").strip().lower()


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
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound("User not found.")
    return user


def find_by_username(username: str) -> User | None:
    return db.session.scalar(select(User).where(User.username == normalize_username(username)))


def authenticate(username: str, password: str) -> User:
    """Return the user for these credentials or raise :class:`AuthenticationFailed`."""
    user = find_by_username(username)
    if user is None:
        User(password_hash=_DUMMY_HASH).check_password(password or "")
        raise AuthenticationFailed("unknown_user")
    if not user.check_password(password or ""):
        raise AuthenticationFailed("bad_password")
    if not user.is_active:
        raise AuthenticationFailed("inactive")
    record_login(user)
    return user


def record_login(user: User) -> None:
    user.last_login_at = utcnow()
    db.session.commit()


def list_users() -> list[User]:
    return list(db.session.scalars(select(User).order_by(User.username)))


def _active_admin_count() -> int:
    return db.session.scalar(
        select(func.count(User.id)).where(User.role == ROLE_ADMIN, User.active.is_(True))
    )


def update_user(
    actor: User, user_id: int, *, role: str, active: bool, timezone: str | None = None
) -> User:
    """Change a user's role and active flag; never locks the last admin out."""
    user = get_user(user_id)
    role = clean_role(role)
    losing_admin = user.is_admin and user.active and (role != ROLE_ADMIN or not active)
    if losing_admin and _active_admin_count() <= 1:
        raise ValidationError("There must always be at least one active admin.", "role")
    if user.id == actor.id and not active:
        raise ValidationError("You cannot deactivate your own account.", "active")
    user.role = role
    user.active = bool(active)
    if timezone:
        user.timezone = clean_timezone(timezone)
    db.session.commit()
    return user


def reset_password(user_id: int, new_password: str) -> User:
    user = get_user(user_id)
    user.set_password(clean_password(new_password))
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


def change_password(user: User, *, current_password: str, new_password: str) -> None:
    if user.password_hash and not user.check_password(current_password or ""):
        raise ValidationError("Current password is wrong.", "current_password")
    user.set_password(clean_password(new_password, "new_password"))
    db.session.commit()


def user_for_oidc(*, subject: str, email: str | None, preferred_username: str | None) -> User:
    """Find the account linked to an OIDC subject, creating a ``user`` on first login."""
    user = db.session.scalar(select(User).where(User.oidc_subject == subject))
    if user is not None:
        return user
    base = re.sub(r"[^a-z0-9._-]", "", normalize_username(preferred_username or "")) or "user"
    base = base[:50] if len(base) >= 2 else f"sso-{base}"
    username, n = base, 1
    while find_by_username(username) is not None:
        n += 1
        username = f"{base}-{n}"
    email_clean = None
    try:
        email_clean = clean_email(email)
    except ValidationError:
        pass
    user = User(username=username, email=email_clean, role="user", oidc_subject=subject)
    db.session.add(user)
    commit_or_conflict("That account already exists.", "username")
    return user
