"""Where lines go, in batches (``batching.py``): stdout, or stderr in a ``flask`` command,
and ``LOG_DIR/app.jsonl``, which rotates safely with several writers."""

from __future__ import annotations

import logging
import os
import sys
import time
from typing import Iterator

import click
from filelock import FileLock

from .batching import BufferedLineHandler

LOG_FILE_NAME = "app.jsonl"
# A pipe write up to this size is atomic (PIPE_BUF): workers sharing stdout never tear
# each other's lines. A file opened O_APPEND takes any single write whole.
_PIPE_ATOMIC_BYTES = 4096


class StdoutHandler(BufferedLineHandler, logging.StreamHandler):
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
        for chunk in line_chunks(lines, _PIPE_ATOMIC_BYTES):
            stream.write(chunk)
            stream.flush()


def line_chunks(lines: list[str], limit: int) -> Iterator[str]:
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


class SharedRotatingFileHandler(BufferedLineHandler, logging.Handler):
    """Size-rotated JSON lines file that several processes may append to at once.

    The stdlib ``RotatingFileHandler`` assumes it is the only writer: with several
    gunicorn workers each one renames the file on its own schedule, keeps writing
    to the renamed file and clobbers the others' backups. Here instead:

    - whole lines (a batch, see :class:`BufferedLineHandler`) go out in one
      ``write(2)`` on an ``O_APPEND`` descriptor, so lines from different workers
      never interleave;
    - a rotation by another worker shows in the descriptor's size (the renamed file
      is full): the handler then finds the path holds another file and reopens it;
    - rotation itself happens under an inter-process file lock (``<path>.lock``),
      and re-checks the size under the lock, so exactly one worker rotates.

    The path itself is looked up (a ``stat``) at most once every ``CHECK_SECONDS``,
    for a file moved or deleted by someone else. A line written meanwhile lands at
    the end of ``app.jsonl.1`` instead of the new file: it is never lost.
    ``max_bytes`` or ``backup_count`` of 0 turn rotation off (like the stdlib handler).
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
