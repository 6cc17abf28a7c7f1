"""Waiting for a condition instead of sleeping for a guess: one helper for tests and bench/.

A fixed sleep is either too short on a loaded machine (a flaky test) or too long
everywhere else (a slow one); polling returns as soon as the condition holds.
"""

from __future__ import annotations

import time
from typing import Callable, TypeVar

T = TypeVar("T")


def poll(probe: Callable[[], T], timeout: float = 10.0, interval: float = 0.02) -> T:
    """Call ``probe`` every ``interval`` seconds until it returns a truthy value, for at
    most ``timeout`` seconds; returns that value, or ``probe``'s last (falsy) answer,
    asked once more after the timeout.

    An exception from ``probe`` propagates at once: a probe may end the wait early
    (e.g. when the server it waits for has exited).
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(interval)
    return probe()


def wait_for(predicate: Callable[[], object], timeout: float = 10.0,
             interval: float = 0.02) -> bool:
    """Whether ``predicate`` became true within ``timeout`` seconds, asked every
    ``interval`` seconds (see :func:`poll`). Callers assert on it:
    ``assert wait_for(lambda: ...), "what never happened"``.
    """
    return bool(poll(predicate, timeout, interval))


def holds_for(predicate: Callable[[], object], seconds: float, interval: float = 0.05) -> bool:
    """Whether ``predicate`` stays true for ``seconds``, asked every ``interval`` seconds;
    False as soon as it is not.

    For proving that something does *not* happen, which only time passing can show:
    unlike a sleep followed by one check, a failure is reported when it happens.
    """
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not predicate():
            return False
        time.sleep(interval)
    return bool(predicate())
