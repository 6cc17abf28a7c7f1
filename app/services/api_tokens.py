"""Personal API tokens: create (the secret is returned once), list, revoke, authenticate."""

from __future__ import annotations

import functools
import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import joinedload

from .. import events
from ..extensions import db
from ..models import ApiToken, User
from ..models.types import utcnow
from .errors import NotFound, ValidationError
from .validation import clean_name

# A recognisable prefix lets secret scanners (and people) spot a leaked token.
TOKEN_PREFIX = "tt_"
DISPLAY_PREFIX_LENGTH = 10  # "tt_" + 7 characters of the random part
MAX_ACTIVE_TOKENS = 50
# last_used_at is refreshed at most this often, so API traffic does not turn
# every read into a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)
SCOPE_FULL = "full"
SCOPE_READ = "read"  # GET, HEAD and OPTIONS only
SCOPES = (SCOPE_FULL, SCOPE_READ)
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
MAX_LIFETIME = timedelta(days=5 * 366)
_DURATION = re.compile(r"^\s*(\d{1,5})\s*([hdwy])\s*$")
_UNITS = {"h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1),
          "y": timedelta(days=365)}


def parse_lifetime(value: str | None) -> timedelta | None:
    """``"90d"``, ``"12w"``, ``"24h"``, ``"1y"`` as a timedelta; empty/"never" is None.

    Between one hour and five years: a token that expires at once or in a century is
    a typo, refused with :class:`ValidationError`.
    """
    if value is None or not str(value).strip() or str(value).strip().lower() == "never":
        return None
    match = _DURATION.match(str(value).lower())
    if match is None:
        raise ValidationError("Expiry must look like 90d, 12w, 24h or 1y.", "expires_in")
    lifetime = int(match.group(1)) * _UNITS[match.group(2)]
    if not timedelta(hours=1) <= lifetime <= MAX_LIFETIME:
        raise ValidationError("Expiry must be between 1 hour and 5 years.", "expires_in")
    return lifetime


def clean_scope(value: str | None) -> str:
    scope = (value or SCOPE_FULL).strip().lower()
    if scope not in SCOPES:
        raise ValidationError("Scope must be full or read.", "scope")
    return scope


@dataclass(frozen=True)
class IssuedToken:
    """A freshly created token: ``secret`` exists only here, never in the database."""

    token: ApiToken
    secret: str


def hash_token(secret: str) -> str:
    """SHA-256 hex of a token (see the ApiToken model for why SHA-256 suffices)."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def create_token(user: User, name: str | None, *, expires_in: timedelta | str | None = None,
                 scope: str | None = SCOPE_FULL) -> IssuedToken:
    """Create a token for ``user``; the returned secret cannot be shown again.

    ``expires_in`` (a timedelta or "90d"): the token stops working after that long;
    None never expires. ``scope`` "read" allows only reading requests.
    """
    name = clean_name(name, "name", 100)
    lifetime = expires_in if isinstance(expires_in, timedelta) or expires_in is None \
        else parse_lifetime(expires_in)
    if lifetime is not None and not timedelta(hours=1) <= lifetime <= MAX_LIFETIME:
        raise ValidationError("Expiry must be between 1 hour and 5 years.", "expires_in")
    scope = clean_scope(scope)
    active = db.session.scalar(
        select(db.func.count(ApiToken.id)).where(
            ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None)
        )
    )
    if active >= MAX_ACTIVE_TOKENS:
        raise ValidationError(
            f"You already have {MAX_ACTIVE_TOKENS} active tokens; revoke one first.", "name"
        )
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)  # 256 random bits
    now = utcnow()
    token = ApiToken(
        user_id=user.id,
        name=name,
        token_hash=hash_token(secret),
        prefix=secret[:DISPLAY_PREFIX_LENGTH],
        created_at=now,
        expires_at=now + lifetime if lifetime is not None else None,
        scope=scope,
    )
    db.session.add(token)
    db.session.commit()
    events.announce(events.api_token_created, actor=user, token=token)
    return IssuedToken(token=token, secret=secret)


def list_tokens(user: User) -> list[ApiToken]:
    """The user's tokens, active first, newest first."""
    return list(
        db.session.scalars(
            select(ApiToken)
            .where(ApiToken.user_id == user.id)
            .order_by(ApiToken.revoked_at.is_not(None), ApiToken.created_at.desc(), ApiToken.id.desc())
        )
    )


def get_token(user: User, token_id) -> ApiToken:
    """One of the user's own active tokens; anything else is "not found"."""
    try:
        ident = int(token_id)
    except (TypeError, ValueError):
        raise NotFound("Token not found.") from None
    token = db.session.get(ApiToken, ident) if 0 < ident < 2**31 else None
    if token is None or token.user_id != user.id or token.revoked_at is not None:
        raise NotFound("Token not found.")
    return token


def revoke_token(user: User, token_id) -> ApiToken:
    """Revoke one of the user's own tokens. Revoking twice is harmless."""
    try:
        ident = int(token_id)
    except (TypeError, ValueError):
        raise NotFound("Token not found.") from None
    token = db.session.get(ApiToken, ident) if 0 < ident < 2**31 else None
    if token is None or token.user_id != user.id:
        raise NotFound("Token not found.")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        db.session.commit()
    return token


def revoke_all_tokens(user: User) -> int:
    """Revoke every active token of ``user`` (not committed: it is part of the caller's
    change, e.g. a password change, a reset, a sign-out everywhere or a deactivation);
    returns how many. One conditional UPDATE, so a token created meanwhile by another
    request is either revoked here or created after the change."""
    result = db.session.execute(
        update(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


def user_for_token(secret: str | None) -> User | None:
    """The active user a presented token belongs to, or None (see :func:`authenticate`)."""
    token = authenticate(secret)
    return token.user if token is not None else None


def allows(token: ApiToken, method: str) -> bool:
    """Whether the token's scope allows a request with this HTTP method."""
    return token.scope != SCOPE_READ or method.upper() in READ_METHODS


@functools.cache
def _token_by_hash():
    """The token and its user in one query (a lazy load of the user was a second round
    trip on every API request), built once per process rather than per request."""
    return (select(ApiToken).options(joinedload(ApiToken.user))
            .where(ApiToken.token_hash == bindparam("token_hash")))


def authenticate(secret: str | None) -> ApiToken | None:
    """The live token for a presented secret (its user active), or None.

    Revoked and expired tokens and those of deactivated users are refused. Lookup
    is by hash (an indexed equality), so the comparison leaks nothing about stored
    tokens through timing.
    """
    if not secret or not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
        return None
    try:
        secret.encode("utf-8")
    except UnicodeEncodeError:
        return None
    token = db.session.scalar(_token_by_hash(), {"token_hash": hash_token(secret)})
    if token is None or token.revoked_at is not None:
        return None
    now = utcnow()
    if token.expires_at is not None and token.expires_at <= now:
        return None
    user = token.user
    if user is None or not user.is_active:
        return None
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        # A conditional UPDATE: concurrent requests never fight over the row.
        db.session.execute(
            update(ApiToken)
            .where(ApiToken.id == token.id)
            .values(last_used_at=now)
            .execution_options(synchronize_session=False)
        )
        db.session.commit()
    return token
