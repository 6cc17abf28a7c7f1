"""Log lines below WARNING are written in batches (LOG_FLUSH_SECONDS apart): fewer system
calls per request, and nothing lost on the way out."""

from __future__ import annotations

import json
import logging
import shutil
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from app.observability.logging import (
    JsonLineFormatter, SharedRotatingFileHandler, StdoutHandler, handlers,
)
from tests.observability.conftest import read_log_lines
from tests.support.gunicorn import gunicorn_env, run_setup, serving
from tests.support.polling import wait_for


def _record(message: str, level: int = logging.INFO) -> logging.LogRecord:
    return logging.LogRecord("app", level, __file__, 0, message, (), None)


def _file_handler(path, flush_seconds: float) -> SharedRotatingFileHandler:
    handler = SharedRotatingFileHandler(path, max_bytes=0, backup_count=0,
                                        flush_seconds=flush_seconds)
    handler.setFormatter(JsonLineFormatter())
    return handler


def _messages(path) -> list[str]:
    if not path.exists():
        return []
    return [json.loads(raw)["message"] for raw in path.read_text().splitlines()]


def test_info_lines_wait_for_the_flush_interval_and_then_arrive_in_order(tmp_path):
    path = tmp_path / "app.jsonl"
    handler = _file_handler(path, flush_seconds=0.3)
    for n in range(5):
        handler.handle(_record(f"line {n}"))
    assert _messages(path) == []  # held back: one write for the batch
    assert wait_for(lambda: len(_messages(path)) == 5, timeout=5, interval=0.05)
    assert _messages(path) == [f"line {n}" for n in range(5)]
    handler.close()


def test_a_warning_writes_itself_and_everything_before_it_at_once(tmp_path):
    path = tmp_path / "app.jsonl"
    handler = _file_handler(path, flush_seconds=5)
    handler.handle(_record("routine"))
    handler.handle(_record("something is wrong", logging.WARNING))
    assert _messages(path) == ["routine", "something is wrong"]
    handler.close()


def test_closing_a_handler_writes_what_it_still_holds(tmp_path):
    path = tmp_path / "app.jsonl"
    handler = _file_handler(path, flush_seconds=5)
    handler.handle(_record("last words"))
    handler.close()
    assert _messages(path) == ["last words"]


def test_a_zero_interval_writes_every_line_at_once(tmp_path):
    path = tmp_path / "app.jsonl"
    handler = _file_handler(path, flush_seconds=0)
    handler.handle(_record("now"))
    assert _messages(path) == ["now"]
    handler.close()


def test_stdout_batches_are_cut_at_line_ends_within_the_atomic_pipe_write():
    lines = [json.dumps({"n": n, "pad": "x" * (90 + n % 70)}) for n in range(400)]
    lines.append(json.dumps({"big": "y" * 5000}))  # a line longer than a pipe write stays whole
    pieces = list(handlers.line_chunks(lines, 4096))
    assert "".join(pieces).splitlines() == lines
    for piece in pieces:
        assert piece.endswith("\n")
        assert len(piece.encode()) <= 4096 or piece.count("\n") == 1


def test_stdout_lines_are_batched_too(capsys):
    handler = StdoutHandler(flush_seconds=5)
    handler.setFormatter(JsonLineFormatter())
    handler.handle(_record("first"))
    assert capsys.readouterr().out == ""
    handler.flush()
    assert json.loads(capsys.readouterr().out)["message"] == "first"
    handler.close()


def test_a_gracefully_stopped_server_writes_every_buffered_line(sqlite_template, tmp_path):
    # Long interval: nothing is flushed by time while the server runs; every access line
    # must still reach app.jsonl when gunicorn stops its workers (logging's exit flush).
    database = tmp_path / "timetracker.db"
    shutil.copy(sqlite_template, database)
    env = gunicorn_env(tmp_path, database, workers=2, LOG_FLUSH_SECONDS="10",
                       METRICS_ENABLED="false")
    run_setup(env)
    requests = 120
    with serving(env, tmp_path) as base_url:
        def get(_):
            with urllib.request.urlopen(f"{base_url}/healthz", timeout=10) as response:
                return response.status

        with ThreadPoolExecutor(max_workers=4) as pool:
            assert set(pool.map(get, range(requests))) == {200}
        written_while_running = [line for line in read_log_lines(tmp_path / "logs")
                                 if line.get("route") == "/healthz"]
    access = [line for line in read_log_lines(tmp_path / "logs") if line.get("route") == "/healthz"]
    assert len(written_while_running) < requests  # they really were held back
    assert len(access) == requests
