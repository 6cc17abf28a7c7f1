"""Helpers for the observability tests: reading JSON log lines, free ports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

TIMESTAMP_PATTERN = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z"


def read_log_lines(log_dir: Path, name: str = "app.jsonl") -> list[dict]:
    """Every line of ``LOG_DIR/app.jsonl`` parsed as JSON (a line that does not parse fails)."""
    path = Path(log_dir) / name
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture
def log_dir(tmp_path) -> Path:
    """The LOG_DIR the shared ``app_factory`` fixture configures."""
    return tmp_path / "logs"
