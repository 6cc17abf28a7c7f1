"""DATA_DIR exists and can be written before anything writes to it."""

from __future__ import annotations

import tempfile
from pathlib import Path

import click
from flask import Flask

from .config import ConfigError


class DataDirNotWritable(ConfigError, click.ClickException):
    """DATA_DIR cannot be created or written. A ClickException too, so that `flask db
    upgrade` (the first step of `make run` and of the container) prints this one line
    instead of a traceback; gunicorn.conf.py says the same before any worker starts."""

    def __init__(self, path: Path, exc: OSError):
        message = (f"TimeTracker cannot start: DATA_DIR {path} is not writable "
                   f"({exc.strerror}). Point DATA_DIR at a writable folder.")
        ConfigError.__init__(self, message)
        click.ClickException.__init__(self, message)


def init_app(app: Flask) -> None:
    """Create DATA_DIR and check it can be written, or raise :class:`DataDirNotWritable`."""
    data_dir = Path(app.config["DATA_DIR"])
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        # Written to at once (installation.json, a SQLite database): find out now, in one line.
        with tempfile.TemporaryFile(dir=data_dir):
            pass
    except OSError as exc:
        raise DataDirNotWritable(data_dir, exc) from None
