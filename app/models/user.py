"""Users: local accounts (optionally linked to an OIDC subject) with a role."""

from __future__ import annotations

from flask_login import UserMixin
from werkzeug.security import check_password_hash, generate_password_hash

from ..extensions import db
from .types import UTCDateTime, utcnow

ROLE_ADMIN = "admin"
ROLE_USER = "user"
ROLES = (ROLE_ADMIN, ROLE_USER)
# How durations are shown to this user, everywhere: "hm" is 1:30, "decimal" is 1.50.
HOURS_FORMATS = ("hm", "decimal")
# Colour scheme: "auto" follows the browser's prefers-color-scheme.
THEMES = ("auto", "light", "dark")


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id = db.Column(db.Integer, primary_key=True)
    username = db.Column(db.String(80), nullable=False, unique=True)
    email = db.Column(db.String(255), nullable=True)
    display_name = db.Column(db.String(120), nullable=True)
    password_hash = db.Column(db.String(255), nullable=True)  # NULL for SSO-only accounts
    role = db.Column(db.String(16), nullable=False, default=ROLE_USER)
    active = db.Column(db.Boolean, nullable=False, default=True)
    timezone = db.Column(db.String(64), nullable=False, default="UTC")
    hours_format = db.Column(db.String(8), nullable=False, default="hm", server_default="hm")
    theme = db.Column(db.String(8), nullable=False, default="auto", server_default="auto")
    oidc_subject = db.Column(db.String(255), nullable=True, unique=True)
    created_at = db.Column(UTCDateTime, nullable=False, default=utcnow)
    last_login_at = db.Column(UTCDateTime, nullable=True)
    # Part of the id in every session and remember-me cookie (get_id): incremented by
    # logout, a password change or reset and deactivation, which ends every session
    # signed in before (app/auth.py load_user compares it).
    session_generation = db.Column(db.Integer, nullable=False, default=0, server_default="0")

    __table_args__ = (
        db.CheckConstraint("role IN ('admin', 'user')", name="role_valid"),
        db.CheckConstraint("hours_format IN ('hm', 'decimal')", name="hours_format_valid"),
        db.CheckConstraint("theme IN ('auto', 'light', 'dark')", name="theme_valid"),
    )

    def set_password(self, password: str) -> None:
        # Werkzeug 3 defaults to scrypt with a random salt.
        self.password_hash = generate_password_hash(password)

    def check_password(self, password: str) -> bool:
        if not self.password_hash:
            return False
        return check_password_hash(self.password_hash, password)

    def get_id(self) -> str:
        """Flask-Login's cookie id: ``"<id>:<session generation>"``."""
        return f"{self.id}:{self.session_generation or 0}"

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return bool(self.active)

    @property
    def is_admin(self) -> bool:
        return self.role == ROLE_ADMIN

    @property
    def label(self) -> str:
        return self.display_name or self.username

    def __repr__(self) -> str:  # never the username: reprs end up in logs
        return f"<User id={self.id}>"
