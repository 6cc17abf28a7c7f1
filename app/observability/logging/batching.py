"""Batched writes: lines below WARNING wait up to ``flush_seconds`` and go out together.

:class:`BufferedLineHandler` is the base of both handlers (``handlers.py``); one flusher
thread per process writes what they hold, and a fork hook empties them first. The stdlib's
``MemoryHandler`` and ``QueueHandler`` do not fit: docs/observability.md says why.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import weakref

# Buffered lines are written at once when they reach this size.
_MAX_BUFFERED_BYTES = 64 * 1024


class BufferedLineHandler:
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
        self._handlers: "weakref.WeakSet[BufferedLineHandler]" = weakref.WeakSet()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._pid: int | None = None

    def watch(self, handler: BufferedLineHandler) -> None:
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
