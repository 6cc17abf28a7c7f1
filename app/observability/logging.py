"""Structured JSON logs: one object per line, a request id on every line of a request.

Every line has ``timestamp`` (RFC 3339, UTC, milliseconds: ``2026-11-23T09:30:00.123Z``),
``level``, ``logger``, ``message`` and ``pid``; ``request_id`` inside a request; then
whatever context the call adds (``extra=...`` or :func:`log_event` fields). The format
is documented field by field in ``docs/observability.md``: Promtail parses it.

Lines go to stdout (containers) and to ``LOG_DIR/app.jsonl``. The file rotates by size
with :class:`SharedRotatingFileHandler`, which stays correct when several gunicorn
workers append to the same file (the docs say why the stdlib handler does not).
"""

from __future__ import annotations

import contextvars
import functools
import logging
import os
import random
import re
import sys
import threading
import time
import weakref
from pathlib import Path
from typing import Any, Iterator

import click
from filelock import FileLock
from flask import Flask, g, request
from flask.logging import default_handler
from pythonjsonlogger.json import JsonFormatter

from ..auth import authenticated_user_id  # noqa: F401  (re-exported for errors.py)

APP_LOGGER = "app"  # Flask names app.logger after the import name of the package
ACCESS_LOGGER = "app.access"
EVENTS_LOGGER = "app.events"
LOG_FILE_NAME = "app.jsonl"
REQUEST_ID_HEADER = "X-Request-ID"

# An incoming id is reused only when it is a plain token: ASCII letters, digits and
# ``-_.:``, 8 to 64 characters. Anything else (long, control characters, unicode,
# spaces) is replaced by a fresh id instead of being echoed into logs and headers.
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{7,63}")
_EVENT_NAME = re.compile(r"[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)+")

# Context the formatter reads; a contextvar, so each request thread sees its own.
_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "tt_request_id", default=None
)

# Fields every line starts with, in this order; extras may not overwrite them.
CORE_FIELDS = ("timestamp", "level", "logger", "message", "request_id", "pid")
# LogRecord attributes ``extra=`` may not set (logging raises KeyError for some).
_RECORD_ATTRS = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
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
_NOT_EXTRA = _RECORD_ATTRS | {"request_id"}


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


def log_event(name: str, /, **fields: Any) -> None:
    """Log a named event (``resource.action``, e.g. ``project.created``) with its fields.

    Fields are context such as ids and counts, never what a user typed (names,
    notes) nor credentials: keys that look like credentials are redacted anyway.
    A malformed name is a programming error and raises ``ValueError``.
    """
    if not isinstance(name, str) or _EVENT_NAME.fullmatch(name) is None:
        raise ValueError(f"event name {name!r} is not of the form resource.action")
    extra = {(f"{key}_" if key in _RECORD_ATTRS else key): value for key, value in fields.items()}
    extra["event"] = name
    logging.getLogger(EVENTS_LOGGER).info(name, extra=extra)


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
        request_id = getattr(record, "request_id", None) or _request_id.get()
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


# A pipe write up to this size is atomic (PIPE_BUF): workers sharing stdout never tear
# each other's lines. A file opened O_APPEND takes any single write whole.
_PIPE_ATOMIC_BYTES = 4096
# Buffered lines are written at once when they reach this size.
_MAX_BUFFERED_BYTES = 64 * 1024


class _BufferedLineHandler:
    """A handler that formats outside its lock and writes lines in batches.

    Every line used to be its own system call (two handlers: two per line), and each
    call handed the GIL to another request thread and back: the JSON access line was
    the largest cost observability added to a request (docs/performance.md, scenario
    1). Lines now wait up to ``flush_seconds`` (``LOG_FLUSH_SECONDS``) and go out
    together, written by :data:`_flusher`'s thread. Warnings and errors flush at once,
    as does a full buffer, ``flush()``, ``close()`` (``logging.shutdown`` at exit
    calls both) and a fork. ``flush_seconds`` of 0 writes every line at once.
    """

    flush_seconds = 0.0

    def _init_buffer(self, flush_seconds: float) -> None:
        self.flush_seconds = flush_seconds
        self._lines: list[str] = []
        self._buffered_bytes = 0
        self._last_record: logging.LogRecord | None = None
        self._watched = False

    def handle(self, record: logging.LogRecord):
        passed = self.filter(record)
        if isinstance(passed, logging.LogRecord):  # Python 3.12+: a filter may replace it
            record = passed
        if not passed:
            return passed
        try:
            line = self.format(record)
        except Exception:
            self.handleError(record)
            return passed
        with self.lock:
            self._lines.append(line)
            self._buffered_bytes += len(line) + 1
            self._last_record = record
            if (self.flush_seconds <= 0 or record.levelno >= logging.WARNING
                    or self._buffered_bytes >= _MAX_BUFFERED_BYTES or self._write_now()):
                self._write_buffered()
            elif not self._watched:
                self._watched = True
                _flusher.watch(self)
        return passed

    def emit(self, record: logging.LogRecord) -> None:
        self.handle(record)

    def flush(self) -> None:
        with self.lock:
            self._write_buffered()

    def close(self) -> None:
        self.flush()
        super().close()

    def _write_buffered(self) -> None:
        """Write what is buffered (the caller holds the lock)."""
        self._watched = False
        if not self._lines:
            return
        lines, record = self._lines, self._last_record
        self._lines, self._buffered_bytes, self._last_record = [], 0, None
        try:
            self.write_lines(lines)
        except Exception:
            self.handleError(record)

    def _write_now(self) -> bool:
        """Whether this line must not wait (a subclass's reason)."""
        return False

    def write_lines(self, lines: list[str]) -> None:
        raise NotImplementedError


class _Flusher:
    """One thread per process writes the handlers' buffered lines every ``flush_seconds``."""

    def __init__(self) -> None:
        self._handlers: "weakref.WeakSet[_BufferedLineHandler]" = weakref.WeakSet()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._pid: int | None = None

    def watch(self, handler: _BufferedLineHandler) -> None:
        with self._lock:
            self._handlers.add(handler)
            if self._pid != os.getpid():  # first use in this process (or after a fork)
                self._pid = os.getpid()
                threading.Thread(target=self._run, name="log-flusher", daemon=True).start()
        self._wake.set()

    def flush_all(self) -> None:
        with self._lock:
            handlers = list(self._handlers)
        for handler in handlers:
            handler.flush()

    def _run(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            with self._lock:
                delays = [h.flush_seconds for h in self._handlers if h.flush_seconds > 0]
            time.sleep(min(delays, default=0.0))
            self.flush_all()


_flusher = _Flusher()
if hasattr(os, "register_at_fork"):
    # A child must not write its parent's buffered lines a second time.
    os.register_at_fork(before=_flusher.flush_all)


class _StdoutHandler(_BufferedLineHandler, logging.StreamHandler):
    """Writes to whatever ``sys.stdout`` is at emit time (test runners swap it).

    In a ``flask`` command the lines go to stderr instead: there stdout is the
    command's answer (``TOKEN=$(flask create-token admin)`` must get the token alone).
    That holds for the whole process when the CLI built the app (background threads
    included), and for any thread running a command.
    """

    def __init__(self, cli_process: bool = False, flush_seconds: float = 0.0) -> None:
        super().__init__(sys.stdout)
        self.cli_process = cli_process
        self._init_buffer(flush_seconds)

    def _in_command(self) -> bool:
        return self.cli_process or click.get_current_context(silent=True) is not None

    @property
    def stream(self):  # type: ignore[override]
        return sys.stderr if self._in_command() else sys.stdout

    @stream.setter
    def stream(self, _value) -> None:
        pass

    def _write_now(self) -> bool:
        # A command's lines go to stderr, decided by the thread that logs them: write
        # them from that thread, not later from the flusher's.
        return self._in_command()

    def write_lines(self, lines: list[str]) -> None:
        stream = self.stream
        for chunk in _chunks(lines, _PIPE_ATOMIC_BYTES):
            stream.write(chunk)
            stream.flush()


def _chunks(lines: list[str], limit: int) -> Iterator[str]:
    """Whole lines joined into pieces of at most ``limit`` bytes (a longer line alone)."""
    piece: list[str] = []
    size = 0
    for line in lines:
        length = len(line.encode("utf-8")) + 1 if not line.isascii() else len(line) + 1
        if piece and size + length > limit:
            yield "\n".join(piece) + "\n"
            piece, size = [], 0
        piece.append(line)
        size += length
    if piece:
        yield "\n".join(piece) + "\n"


class SharedRotatingFileHandler(_BufferedLineHandler, logging.Handler):
    """Size-rotated JSON lines file that several processes may append to at once.

    The stdlib ``RotatingFileHandler`` assumes it is the only writer: with several
    gunicorn workers each one renames the file on its own schedule, keeps writing
    to the renamed file and clobbers the others' backups. Here instead:

    - whole lines (a batch, see :class:`_BufferedLineHandler`) go out in one
      ``write(2)`` on an ``O_APPEND`` descriptor, so lines from different workers
      never interleave;
    - a rotation by another worker shows in the descriptor's size (the renamed file
      is full): the handler then finds the path holds another file and reopens it;
    - rotation itself happens under an inter-process file lock (``<path>.lock``),
      and re-checks the size under the lock, so exactly one worker rotates.

    The path itself is looked up (a ``stat``) at most once every ``CHECK_SECONDS``,
    for a file moved or deleted by someone else. A line written meanwhile lands at
    the end of ``app.jsonl.1`` instead of the new file: it is never lost. ``max_bytes`` or ``backup_count`` of 0 turn rotation off (like the
    stdlib handler).
    """

    CHECK_SECONDS = 1.0

    def __init__(self, path: str | os.PathLike, max_bytes: int, backup_count: int,
                 flush_seconds: float = 0.0) -> None:
        super().__init__()
        self._init_buffer(flush_seconds)
        self.path = str(path)
        self.max_bytes = max_bytes
        self.backup_count = backup_count
        self._fd: int | None = None
        self._inode: int | None = None
        self._checked_at = float("-inf")  # monotonic time of the last check of the path

    @property
    def rotates(self) -> bool:
        return self.max_bytes > 0 and self.backup_count > 0

    def write_lines(self, lines: list[str]) -> None:
        # One write per batch, unless the batch would carry the file past its limit:
        # then line by line, so rotation still happens between lines.
        data = ("\n".join(lines) + "\n").encode("utf-8")
        now = time.monotonic()
        if self._fd is None or now - self._checked_at >= self.CHECK_SECONDS:
            self._ensure_current()
            self._checked_at = now
        if not self.rotates or os.fstat(self._fd).st_size + len(data) <= self.max_bytes:
            os.write(self._fd, data)
            return
        for line in lines:
            encoded = (line + "\n").encode("utf-8")
            if os.fstat(self._fd).st_size + len(encoded) > self.max_bytes:
                self._rotate(len(encoded))
            os.write(self._fd, encoded)

    def close(self) -> None:
        super().close()  # writes what is still buffered first
        with self.lock:
            self._close_fd()

    def _ensure_current(self) -> None:
        try:
            inode = os.stat(self.path).st_ino
        except FileNotFoundError:
            inode = None
        if self._fd is None or inode != self._inode:
            self._close_fd()
            self._open()

    def _open(self) -> None:
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        self._inode = os.fstat(self._fd).st_ino

    def _close_fd(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
            self._inode = None

    def _rotate(self, incoming: int) -> None:
        with FileLock(self.path + ".lock"):
            try:
                stat = os.stat(self.path)
            except FileNotFoundError:
                stat = None
            # Another worker may have rotated while we waited for the lock.
            if (stat is not None and stat.st_ino == self._inode and stat.st_size > 0
                    and stat.st_size + incoming > self.max_bytes):
                for index in range(self.backup_count - 1, 0, -1):
                    source = f"{self.path}.{index}"
                    if os.path.exists(source):
                        os.replace(source, f"{self.path}.{index + 1}")
                os.replace(self.path, f"{self.path}.1")
            self._close_fd()
            self._open()


def init_app(app: Flask) -> None:
    """Send the app's log lines as JSON to stdout and ``LOG_DIR/app.jsonl``; add request ids.

    Logging is process-wide: the handlers of an app built earlier in the same
    process are replaced (one app per process in production; tests build many).
    """
    _configure_handlers(app)
    # First among the before_request hooks (the limiter and the setup guard are
    # registered earlier): a request they refuse still gets an id and a duration.
    app.before_request_funcs.setdefault(None, []).insert(0, _start_request)
    app.after_request(_finish_request)
    app.teardown_request(_end_request)


def _configure_handlers(app: Flask) -> None:
    logger = app.logger
    logger.setLevel(app.config["LOG_LEVEL"])
    logger.removeHandler(default_handler)
    for handler in list(logger.handlers):
        if getattr(handler, "tt_observability", False):
            logger.removeHandler(handler)
            handler.close()
    formatter = JsonLineFormatter()
    # The flask CLI builds the app inside its click context; gunicorn does not. A command's
    # console shows warnings and errors only (the file keeps every line): its own answer
    # is what the operator reads.
    cli_process = click.get_current_context(silent=True) is not None
    flush_seconds = app.config["LOG_FLUSH_SECONDS"]
    console = _StdoutHandler(cli_process=cli_process, flush_seconds=flush_seconds)
    if cli_process:
        console.setLevel(logging.WARNING)
    handlers: list[logging.Handler] = [console]
    log_dir = app.config.get("LOG_DIR")
    if log_dir:
        Path(log_dir).mkdir(parents=True, exist_ok=True)
        handlers.append(SharedRotatingFileHandler(
            Path(log_dir) / LOG_FILE_NAME,
            max_bytes=app.config["LOG_MAX_BYTES"],
            backup_count=app.config["LOG_BACKUP_COUNT"],
            flush_seconds=flush_seconds,
        ))
    for handler in handlers:
        handler.tt_observability = True
        handler.setFormatter(formatter)
        logger.addHandler(handler)


def _start_request() -> None:
    g._tt_started = time.perf_counter()
    incoming = request.headers.get(REQUEST_ID_HEADER)
    request_id = incoming if is_sane_request_id(incoming) else new_request_id()
    g._tt_request_id = request_id
    g._tt_request_id_token = _request_id.set(request_id)


def _finish_request(response):
    request_id = g.get("_tt_request_id")
    if request_id:
        response.headers[REQUEST_ID_HEADER] = request_id
    _log_access(response.status_code)
    return response


def _end_request(exc: BaseException | None) -> None:
    if exc is not None and not g.get("_tt_access_logged"):
        _log_access(500)  # the exception propagated past after_request (testing mode)
    token = g.pop("_tt_request_id_token", None)
    if token is not None:
        try:
            _request_id.reset(token)
        except ValueError:  # set in another context (should not happen): just clear it
            _request_id.set(None)


def route_template() -> str:
    """The URL rule that matched (``/entries/<int:entry_id>``), or ``<unmatched>``."""
    rule = request.url_rule
    return rule.rule if rule is not None else "<unmatched>"


def duration_seconds() -> float | None:
    """Seconds since this request started (None before our first hook ran)."""
    started = g.get("_tt_started")
    return None if started is None else time.perf_counter() - started


def request_started_at() -> float | None:
    """Wall-clock time (seconds since the epoch) this request started, None before our hook."""
    seconds = duration_seconds()
    return None if seconds is None else time.time() - seconds


def _log_access(status: int) -> None:
    g._tt_access_logged = True
    route = route_template()
    fields: dict[str, Any] = {"method": request.method, "route": route, "status": status}
    seconds = duration_seconds()
    if seconds is not None:
        fields["duration_ms"] = round(seconds * 1000, 2)
    user_id = authenticated_user_id()
    if user_id is not None:
        fields["user_id"] = user_id
    # Scrapes every few seconds would drown the interesting lines.
    level = logging.DEBUG if request.endpoint == "observability.metrics" else logging.INFO
    logger = logging.getLogger(ACCESS_LOGGER)
    if logger.isEnabledFor(level):
        # Logger.log would also walk the stack for the caller's file and line, which
        # no line of ours shows (a tenth of the access line's cost).
        logger.handle(logger.makeRecord(ACCESS_LOGGER, level, __file__, 0, "request", (), None,
                                        extra=fields))
