"""Small validators shared by services: names, money, colours, time zones."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from datetime import timezone
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
        rate = Decimal(normalise_decimal_comma(str(value)).strip())
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


# -- added for issue 14: decimal commas, durations, local times around DST changes ----------

_DECIMAL_COMMA = re.compile(r"^\s*(\d+),(\d{1,2})\s*$")


def normalise_decimal_comma(value: str) -> str:
    """``120,50`` → ``120.50``: a comma followed by one or two digits is a decimal comma.

    Only that shape is rewritten; ``1,200`` (a thousands separator to many) and
    ``1.200,50`` stay as typed and are refused by the caller, never guessed.
    """
    match = _DECIMAL_COMMA.match(value)
    return f"{match.group(1)}.{match.group(2)}" if match else value


_DURATION_HM = re.compile(r"^(\d{1,3}):([0-5]\d)$")                  # 1:30
_DURATION_DECIMAL = re.compile(r"^(\d{1,3})(?:[.,](\d{1,2}))?h?$")    # 1.5, 1,5, 2, 2h
_DURATION_MINUTES = re.compile(r"^(\d{1,5})\s*m(?:in)?$")           # 90m, 90 min
_DURATION_H_M = re.compile(r"^(\d{1,3})\s*h\s*(\d{1,2})\s*(?:m(?:in)?)?$")  # 1h30, 1h 30m
MAX_DURATION_SECONDS = 24 * 3600


def parse_duration(value, field: str = "duration") -> int | None:
    """A typed duration as seconds: ``1:30``, ``1.5``, ``1,5``, ``90m``, ``1h30``; blank → None.

    Refuses anything else, and durations over 24 hours, with a message that shows
    the accepted forms.
    """
    text = str(value or "").strip().lower()
    if not text:
        return None
    if match := _DURATION_HM.match(text):
        seconds = int(match.group(1)) * 3600 + int(match.group(2)) * 60
    elif match := _DURATION_H_M.match(text):
        if int(match.group(2)) > 59:
            raise ValidationError("Minutes must be below 60, e.g. 1h30.", field)
        seconds = int(match.group(1)) * 3600 + int(match.group(2)) * 60
    elif match := _DURATION_MINUTES.match(text):
        seconds = int(match.group(1)) * 60
    elif match := _DURATION_DECIMAL.match(text):
        fraction = Decimal("0." + match.group(2)) if match.group(2) else Decimal(0)
        seconds = int(((int(match.group(1)) + fraction) * 3600).to_integral_value())
    else:
        raise ValidationError(
            "Enter a duration like 1:30, 1.5, 90m or 1h30.", field)
    if seconds > MAX_DURATION_SECONDS:
        raise ValidationError("A duration is at most 24 hours.", field)
    return seconds


REPEATED_HOUR_CHOICES = ("first", "second")


class AmbiguousLocalTime(ValidationError):
    """A local time that happens twice; the caller must say which (``repeated_hour``)."""

    code = "ambiguous_local_time"


def resolve_wall_time(value, tz_name: str, field: str, repeated_hour: str | None = None):
    """A naive local time in ``tz_name`` as an aware datetime, refusing what is ambiguous.

    - A time in the spring gap (02:30 on the last Sunday of March in Berlin) does
      not exist: refused, instead of being moved by an hour without a word.
    - A time in the autumn's repeated hour happens twice: ``repeated_hour``
      ("first" = still summer time, "second" = winter time) says which; without
      it the time is refused with a message naming both offsets.
    Aware datetimes (the API with an explicit offset) pass through unchanged.
    """
    if value.tzinfo is not None:
        return value
    tz = zone(tz_name)
    first, second = value.replace(tzinfo=tz, fold=0), value.replace(tzinfo=tz, fold=1)
    if first.utcoffset() != second.utcoffset():
        round_trip = first.astimezone(timezone.utc).astimezone(tz).replace(tzinfo=None)
        if round_trip != value.replace(fold=0):
            raise ValidationError(
                f"{value:%Y-%m-%d %H:%M} does not exist in {tz.key}: the clocks moved forward "
                "that night. Enter a time before or after the change.", field)
        if repeated_hour not in REPEATED_HOUR_CHOICES:
            raise AmbiguousLocalTime(
                f"{value:%Y-%m-%d %H:%M} happens twice in {tz.key} (the clocks went back): "
                f"say whether you mean the first ({_offset(first)}) or the second "
                f"({_offset(second)}).", field)
        return second if repeated_hour == "second" else first
    return first


def _offset(value) -> str:
    return f"{value.tzname()}, UTC{value.strftime('%z')[:3]}:{value.strftime('%z')[3:]}"
