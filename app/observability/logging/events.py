"""Named event lines (``resource.action``) on the ``app.events`` logger.

The domain-event subscriber that writes most of them is ``app/observability/domain.py``.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from .formatting import RECORD_ATTRS

EVENTS_LOGGER = "app.events"
_EVENT_NAME = re.compile(r"[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)+")


def log_event(name: str, /, **fields: Any) -> None:
    """Log a named event (``resource.action``, e.g. ``project.created``) with its fields.

    Fields are context such as ids and counts, never what a user typed (names,
    notes) nor credentials: keys that look like credentials are redacted anyway.
    A malformed name is a programming error and raises ``ValueError``.
    """
    if not isinstance(name, str) or _EVENT_NAME.fullmatch(name) is None:
        raise ValueError(f"event name {name!r} is not of the form resource.action")
    extra = {(f"{key}_" if key in RECORD_ATTRS else key): value for key, value in fields.items()}
    extra["event"] = name
    logging.getLogger(EVENTS_LOGGER).info(name, extra=extra)
