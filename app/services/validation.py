"""Small validators shared by services: names, text, money, colours, time zones, times.

Web forms and the API both end in these functions (through the services), so a
rule written here holds for every way in: one validation of times and ranges,
one text sanitiser.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from zoneinfo import ZoneInfo, available_timezones

from .errors import ValidationError

_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
MAX_RATE = Decimal("1000000")

# -- text ------------------------------------------------------------------------

# Characters no text field keeps: C0 controls (tab and newline survive in multi-line
# text only), DEL, C1 controls, lone surrogates (unencodable: the database would
# fail), bidi embeddings/overrides/isolates and marks (U+202E turns "exe.txt" into
# "txt.exe" on screen), and zero-width characters (invisible: "Acme\u200b" looks like
# "Acme"). A spreadsheet drops some of them and then runs what follows as a formula
# ("\u0000=HYPERLINK(...)"), so they go before the CSV export neutralises formulas.
_INVISIBLE = (
    "\u00ad\u061c\u180e\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
    "\u2060\u2061\u2062\u2063\u2064\u2066\u2067\u2068\u2069\ufeff"
)
_STRIPPED = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff" + _INVISIBLE + "]"
)
_STRIPPED_SINGLE_LINE = re.compile(
    "[\x00-\x1f\x7f-\x9f\ud800-\udfff" + _INVISIBLE + "]"
)


def strip_unsafe_characters(value: str, *, multiline: bool = False) -> str:
    """``value`` without control, bidi-override, zero-width and surrogate characters.

    Multi-line text keeps tab, newline and carriage return; single-line text loses
    them too.
    """
    return (_STRIPPED if multiline else _STRIPPED_SINGLE_LINE).sub("", value)


def clean_text(value: str | None, field: str, *, max_length: int, multiline: bool = False,
               label: str = "Text") -> str:
    """The one sanitiser for free text typed by a user: stripped of unsafe characters and
    surrounding whitespace, then bounded. Empty text comes back as ``""``."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValidationError(f"{label} must be text.", field)
    if multiline:  # one line ending: CR LF and a lone CR become LF
        value = value.replace("\r\n", "\n").replace("\r", "\n")
    # The bound is on what was sent (as the API's schema says, maxLength), not on what
    # is left once unsafe characters are stripped: a request the schema refuses must
    # not pass here. Line endings count as one character either way (as a browser's
    # maxlength counts them).
    if len(value) > max_length:
        raise ValidationError(f"{label} must be at most {max_length} characters.", field)
    return strip_unsafe_characters(value, multiline=multiline).strip()


def clean_name(value: str | None, field: str = "name", max_length: int = 200) -> str:
    """A display name: sanitised (:func:`clean_text`, one line), required, bounded."""
    name = clean_text(value, field, max_length=max_length, label="Name")
    if not name:
        raise ValidationError("Name is required.", field)
    return name


# Default_Ignorable_Code_Point characters that are not format (Cf) characters:
# Other_Default_Ignorable_Code_Point and the variation selectors (Unicode PropList.txt,
# unchanged since Unicode 6). They render as nothing ("\u034f", the Hangul fillers
# "\u3164" and "\uffa0"), so TR39 drops them before comparing skeletons; Python's
# unicodedata does not expose the property.
_IGNORABLE_NOT_CF = re.compile(
    "[\u034f\u115f\u1160\u17b4\u17b5\u180b-\u180d\u180f\u2065\u3164\ufe00-\ufe0f"
    "\uffa0\ufff0-\ufff8\U000e0000-\U000e0fff]"
)


@lru_cache(maxsize=1)
def _prototypes() -> dict[str, str]:
    """Each confusable character → its prototype, from Unicode's confusables.txt (TR39).

    The data ships with ``confusable-homoglyphs`` as an undirected graph (each character
    lists what it is confusable with). In confusables.txt a prototype is never itself a
    source, so every connected group is one prototype with its sources: a group's
    prototype is its member linked to more than one other, its multi-character member
    (``m`` → ``rn``), or, in a pair, either one (a skeleton is only ever compared, so
    which one represents a group does not matter as long as it is one).
    """
    from confusable_homoglyphs.confusables import confusables_data

    def bare(text):  # the data keeps the LRM marks its source put around RTL text
        return text.replace("\u200e", "").replace("\u200f", "")

    links: dict[str, set[str]] = {}
    for char, entries in confusables_data.items():
        links.setdefault(bare(char), set()).update(bare(e["c"]) for e in entries)
    prototype: dict[str, str] = {}
    for char, others in links.items():
        if len(char) != 1:
            continue  # a multi-character prototype: its sources map to it
        if len(others) == 1:
            (other,) = others
            if len(other) > 1 or len(links.get(other, ())) > 1:
                prototype[char] = other
            else:  # a pair: the smaller code point stands for both
                prototype[char] = min(char, other)
        # linked to several: a prototype, it maps to itself
    # Multi-character prototypes are spelled with prototype characters; spell them with
    # the chosen representatives too, so a typed "rn" and an "m" meet.
    return {char: "".join(prototype.get(c, c) for c in target)
            for char, target in prototype.items()}


def confusable_skeleton(text: str) -> str:
    """The Unicode TR39 skeleton of ``text``: what it looks like, not what it spells.

    NFD, default-ignorable characters removed, each character replaced by its
    prototype, NFD again: Latin "Acme", Greek "Αcme" and Cyrillic "Acmе" share one.
    """
    text = _IGNORABLE_NOT_CF.sub("", unicodedata.normalize("NFD", text))
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
    table = _prototypes()
    return unicodedata.normalize("NFD", "".join(table.get(ch, ch) for ch in text))


def name_key(name: str) -> str:
    """The key two names must not share: "Acme", "ＡＣＭＥ", "Acme\u200b", "Αcme" (Greek
    Alpha) and "Acmе" (Cyrillic e) are one name.

    NFKC folds compatibility forms (fullwidth letters, ligatures, superscripts),
    casefold is case-insensitivity that also knows "ß" = "ss", invisible characters
    and inner runs of whitespace do not make a name different, and the TR39
    confusable skeleton makes look-alike letters of other scripts the same. Casefold
    runs again on the skeleton: a prototype can be a capital (Cyrillic "Ӏ" → "l" but
    "Ꭺ" → "A").
    """
    text = unicodedata.normalize("NFKC", strip_unsafe_characters(name)).casefold()
    text = confusable_skeleton(text).casefold()
    return " ".join(text.split())


def name_key_digest(name: str) -> str:
    """:func:`name_key` as 64 hex digits (SHA-256): what clients, projects and tasks store.

    A key can be far longer than its name (a Hangul syllable becomes up to 7 letters,
    "ﷺ" 18): up to 3,600 characters and 6,000 bytes for a 200-character name. Stored
    as it is, it would need a bound that refuses some valid names (tags refuse a key
    over 200 characters), and PostgreSQL's 2,704-byte B-tree entry would hold only
    thanks to compression. The digest is 64 characters whatever the name, and equal
    keys give equal digests.
    """
    return hashlib.sha256(name_key(name).encode("utf-8")).hexdigest()


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


# -- times and ranges --------------------------------------------------------------

# The years every date and time must fall in, on every way in (web forms, API, CLI).
# Outside them a conversion to another time zone can overflow (year 1 in a zone west
# of UTC is before datetime.min), and nobody tracks time in year 1 or 9999.
EARLIEST_YEAR = 1970
LATEST_YEAR = 2999
EARLIEST_DAY = date(EARLIEST_YEAR, 1, 1)
LATEST_DAY = date(LATEST_YEAR, 12, 31)


def check_day(value: date, field: str) -> date:
    """A calendar day within 1970-01-01 .. 2999-12-31."""
    if not EARLIEST_DAY <= value <= LATEST_DAY:
        raise ValidationError(
            f"{field} must be between {EARLIEST_DAY.isoformat()} and {LATEST_DAY.isoformat()}.",
            field,
        )
    return value


def to_utc(value: datetime, tz_name: str | None, field: str) -> datetime:
    """A date-time as aware UTC (whole seconds); a naive one is wall-clock time in ``tz_name``.

    The year is checked before the conversion (so it cannot overflow) and after it
    (so what is stored lies in range too, whatever the offset was).
    """
    if not isinstance(value, datetime):
        raise ValidationError(f"{field} must be a date and time.", field)
    message = f"{field} must be between {EARLIEST_YEAR} and {LATEST_YEAR}."
    if not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
        raise ValidationError(message, field)
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone(tz_name))
    try:
        utc = value.astimezone(timezone.utc).replace(microsecond=0)
    except OverflowError:  # unreachable within the years above; kept as a 400, not a 500
        raise ValidationError(message, field) from None
    if not EARLIEST_YEAR <= utc.year <= LATEST_YEAR:
        raise ValidationError(message, field)
    return utc


def in_zone(value: datetime, tz) -> datetime:
    """``value`` shown in ``tz``; UTC when the conversion would overflow.

    Rows written before the year check (year 1, year 9999) must not make a page
    or an export fail for a viewer whose zone pushes them past datetime's range.
    """
    try:
        return value.astimezone(tz)
    except OverflowError:
        return value.astimezone(timezone.utc)


# -- how far ahead an entry may lie: one rule for the entry forms, the timesheet, the API --

# Planned time may be entered up to a year (and a leap day) ahead; a typo in the year
# (2062 for 2026) may not, nor can the timesheet open a week no entry could be in.
MAX_DAYS_AHEAD = 366
TOO_FAR_AHEAD = f"End is too far in the future: at most {MAX_DAYS_AHEAD} days from now."


def latest_end(now: datetime | None = None) -> datetime:
    """The latest end any entry may have: :data:`MAX_DAYS_AHEAD` days after ``now``."""
    return (now or datetime.now(timezone.utc)) + timedelta(days=MAX_DAYS_AHEAD)


def check_end(ended_at: datetime, field: str = "ended_at",
              now: datetime | None = None) -> datetime:
    """``ended_at`` (aware) if it is no later than :func:`latest_end`."""
    if ended_at > latest_end(now):
        raise ValidationError(TOO_FAR_AHEAD, field)
    return ended_at


def bookable_days(tz, now: datetime | None = None) -> tuple[date, date]:
    """The first and the last local day (in ``tz``) an entry may lie on: 1970-01-01 to
    the day of :func:`latest_end`."""
    return EARLIEST_DAY, min(LATEST_DAY, in_zone(latest_end(now), tz).date())

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
