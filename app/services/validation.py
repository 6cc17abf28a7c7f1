"""Small validators shared by services: names, money, colours, time zones."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from zoneinfo import ZoneInfo, available_timezones

from .errors import ValidationError

_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
MAX_RATE = Decimal("1000000")


def clean_name(value: str | None, field: str = "name", max_length: int = 200) -> str:
    """Strip and check a display name: required, bounded, no control characters."""
    name = (value or "").strip()
    if not name:
        raise ValidationError("Name is required.", field)
    if len(name) > max_length:
        raise ValidationError(f"Name must be at most {max_length} characters.", field)
    if any(ord(ch) < 32 for ch in name):
        raise ValidationError("Name must not contain control characters.", field)
    return name


def clean_rate(value, field: str = "hourly_rate") -> Decimal | None:
    """An optional non-negative hourly rate with at most two decimals."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise ValidationError("Rate must be a number.", field)
    try:
        rate = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValidationError("Rate must be a number.", field) from None
    if not rate.is_finite() or rate < 0:
        raise ValidationError("Rate must be zero or more.", field)
    if rate >= MAX_RATE:
        raise ValidationError("Rate is too large.", field)
    return rate.quantize(Decimal("0.01"))


def clean_color(value: str | None, field: str = "color") -> str:
    color = (value or "").strip() or "#3b82f6"
    if not _COLOR.match(color):
        raise ValidationError("Colour must look like #1a2b3c.", field)
    return color.lower()


@lru_cache(maxsize=1)
def _timezones() -> frozenset[str]:
    return frozenset(available_timezones())


def timezone_names() -> list[str]:
    return sorted(_timezones())


def clean_timezone(value: str | None, field: str = "timezone") -> str:
    name = (value or "").strip()
    if name not in _timezones() and name != "UTC":
        raise ValidationError("Unknown time zone.", field)
    return name


def zone(name: str | None) -> ZoneInfo:
    """A ZoneInfo for a stored name, falling back to UTC if it became unknown."""
    try:
        return ZoneInfo(name or "UTC")
    except (KeyError, ValueError):
        return ZoneInfo("UTC")
