"""Request ids: reuse a sane incoming ``X-Request-ID``, else make one; one per context."""

from __future__ import annotations

import contextvars
import random
import re

REQUEST_ID_HEADER = "X-Request-ID"

# An incoming id is reused only when it is a plain token: ASCII letters, digits and
# ``-_.:``, 8 to 64 characters. Anything else (long, control characters, unicode,
# spaces) is replaced by a fresh id instead of being echoed into logs and headers.
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{7,63}")

# Context the formatter reads; a contextvar, so each request thread sees its own.
_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "tt_request_id", default=None
)


def current_request_id() -> str | None:
    """The id of the request being handled in this context, or None outside a request."""
    return _request_id.get()


def is_sane_request_id(value: str | None) -> bool:
    """True when an incoming ``X-Request-ID`` may be reused as is."""
    return bool(value) and _SANE_REQUEST_ID.fullmatch(value) is not None


def new_request_id() -> str:
    """A fresh request id: 32 lowercase hex characters.

    From the process's PRNG, which Python reseeds in every forked worker: an id only
    has to be unique, not secret, and ``uuid4`` cost a ``getrandom`` system call (and
    the GIL handed back and forth) on every request.
    """
    return f"{random.getrandbits(128):032x}"


def bind_request_id(incoming: str | None) -> tuple[str, contextvars.Token]:
    """Make ``incoming`` (if sane) or a fresh id this context's request id.

    Returns the id and the token :func:`unbind_request_id` takes back.
    """
    request_id = incoming if is_sane_request_id(incoming) else new_request_id()
    return request_id, _request_id.set(request_id)


def unbind_request_id(token: contextvars.Token) -> None:
    """Forget the id :func:`bind_request_id` set."""
    try:
        _request_id.reset(token)
    except ValueError:  # set in another context (should not happen): just clear it
        _request_id.set(None)
