"""Login-session plumbing shared by blueprints, logs and telemetry: the user loader, role
guards, and the id of the request's user without a query."""

from __future__ import annotations

from functools import wraps

from flask import abort, g
from flask_login import current_user, login_required

from sqlalchemy import inspect as sa_inspect

from .extensions import db
from .models import User


def load_user(user_id: str) -> User | None:
    """The user a session or remember-me cookie names, if that session is still valid.

    The cookie holds ``"<id>:<generation>"`` (:meth:`User.get_id`); a logout, a
    password change or reset, or a deactivation increments the user's generation,
    so every cookie issued before answers "not signed in". A cookie from before
    the generation existed (a bare id) is refused too.
    """
    ident, sep, generation = str(user_id).partition(":")
    try:
        ident_int, generation_int = int(ident), int(generation)
    except (TypeError, ValueError):
        return None
    if not sep or not 0 < ident_int < 2**31:
        return None
    user = db.session.get(User, ident_int)
    if user is None or not user.is_active or user.session_generation != generation_int:
        return None
    return user


def admin_required(view):
    """Only admins may pass: anonymous users go to the login page, users get 403."""

    @wraps(view)
    @login_required
    def wrapper(*args, **kwargs):
        if not current_user.is_admin:
            abort(403)
        return view(*args, **kwargs)

    return wrapper


def authenticated_user_id() -> int | None:
    """The id of the user this request authenticated, without loading one just for logs.

    Flask-Login's ``g._login_user`` holds either the anonymous user or one that the
    session or token loader accepted (both refuse inactive accounts). The id comes
    from the instance's identity key, never from its attributes: after a commit
    they are all expired, and ``is_authenticated`` (``User.active``) or ``id`` would
    cost a SELECT per request, a tenth of a timer request's CPU.
    """
    user = g.get("_login_user")
    if user is None or getattr(user, "is_anonymous", True):
        return None
    state = sa_inspect(user, raiseerr=False)
    if state is not None and state.identity:
        return state.identity[0]
    return getattr(user, "id", None)  # not (yet) persisted: reading it loads nothing
