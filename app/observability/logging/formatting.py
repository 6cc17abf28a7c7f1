"""The JSON line: fixed core fields, then the extras, redacted and scrubbed of SQL values."""

from __future__ import annotations

import functools
import logging
import re
import threading
import time
from typing import Any

from pythonjsonlogger.json import JsonFormatter

from .ids import current_request_id

# Fields every line starts with, in this order; extras may not overwrite them.
CORE_FIELDS = ("timestamp", "level", "logger", "message", "request_id", "pid")
# LogRecord attributes ``extra=`` may not set (logging raises KeyError for some).
RECORD_ATTRS = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message", "asctime",
}
# Defence in depth: whatever a caller passes, values under these keys never reach a
# log line. Ids (``*_id``) are internal integers and stay.
_SENSITIVE_KEY = re.compile(
    r"pass|secret|token|cookie|authori|email|username|session|csrf|typed", re.IGNORECASE
)
REDACTED = "[redacted]"
# What a database error message may carry of the data itself: SQLAlchemy's
# "[parameters: ...]" (when an engine does not hide them) and PostgreSQL's DETAIL
# and "Failing row contains (...)" lines, which quote column values.
# Parameters run up to SQLAlchemy's "(Background on this error ...)" line or the end:
# a "]" inside a note must not end the match early.
_SQL_PARAMETERS = re.compile(r"\[parameters: .*?(?=\n\(Background on this error|\Z)", re.DOTALL)
_SQL_DETAIL = re.compile(r"^(DETAIL|Failing row contains):?.*$", re.MULTILINE)


def scrub_database_values(text: str) -> str:
    """``text`` without the statement parameters and row values a database error quotes."""
    if "[parameters: " in text:
        text = _SQL_PARAMETERS.sub("[parameters: redacted]", text)
    if "DETAIL" in text or "Failing row" in text:
        text = _SQL_DETAIL.sub(r"\1: [redacted]", text)
    return text


# (second, "YYYY-MM-DDTHH:MM:SS") of the last line: most lines share their second.
_last_second: tuple[int, str] = (-1, "")


def format_timestamp(created: float) -> str:
    """``created`` (seconds since the epoch) as RFC 3339 UTC with milliseconds."""
    global _last_second
    seconds = int(created)
    millis = int((created - seconds) * 1000)
    cached = _last_second  # one read: another thread may replace it meanwhile
    if cached[0] != seconds:
        cached = _last_second = (seconds, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)))
    return f"{cached[1]}.{millis:03d}Z"


_PLAIN, _REDACT, _SCRUB = 0, 1, 2
# Record attributes that are never extras (the request id is a core field).
_NOT_EXTRA = RECORD_ATTRS | {"request_id"}


@functools.lru_cache(maxsize=1024)
def _field(key: str) -> tuple[str, int]:
    """An extra's name on the line and what happens to its value, decided once per key
    (the keys come from code: a few dozen; the regex per key per line was a third of
    a line's cost)."""
    name = f"{key}_" if key in CORE_FIELDS else key
    if _SENSITIVE_KEY.search(name) and not name.endswith("_id") and name != "exc_info":
        return name, _REDACT
    if name in ("exc_info", "stack_info"):
        return name, _SCRUB
    return name, _PLAIN


class JsonLineFormatter(JsonFormatter):
    """python-json-logger formatter producing our fixed field layout.

    One instance serves both handlers (stdout and the file): the line formatted for
    the first is reused by the second instead of being built twice (a JSON line
    costs ~40 µs, every request writes at least one).
    """

    def __init__(self) -> None:
        super().__init__(json_ensure_ascii=False)
        self._last = threading.local()  # per thread: (record, line) of the last format

    def format(self, record: logging.LogRecord) -> str:
        last = getattr(self._last, "value", None)
        if last is not None and last[0] is record:
            return last[1]
        line = super().format(record)
        self._last.value = (record, line)
        return line

    def add_fields(self, log_data: dict[str, Any], record: logging.LogRecord,
                   message_dict: dict[str, Any]) -> None:
        log_data["timestamp"] = format_timestamp(record.created)
        log_data["level"] = record.levelname
        log_data["logger"] = record.name
        log_data["message"] = scrub_database_values(record.message)
        request_id = getattr(record, "request_id", None) or current_request_id()
        if request_id:
            log_data["request_id"] = request_id
        log_data["pid"] = record.process
        for extras in (message_dict, record.__dict__):
            for key, value in extras.items():
                if extras is not message_dict and (key in _NOT_EXTRA or key[0] == "_"):
                    continue
                name, kind = _field(key)
                if kind == _REDACT:
                    value = REDACTED
                elif kind == _SCRUB and isinstance(value, str):
                    value = scrub_database_values(value)
                log_data[name] = value
