"""Jinja filters and globals: local times, durations, settings."""

from __future__ import annotations

from datetime import datetime

from flask import Flask, g
from flask_login import current_user

from ..services.settings import get_settings
from ..services.validation import in_zone, zone


def _viewer_zone():
    tz_name = current_user.timezone if current_user.is_authenticated else "UTC"
    return zone(tz_name)


def localtime(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """Format a UTC datetime in the viewer's time zone."""
    if value is None:
        return ""
    return in_zone(value, _viewer_zone()).strftime(fmt)


def duration(seconds: int | None) -> str:
    """Seconds as ``H:MM`` (hours may exceed 24)."""
    seconds = int(seconds or 0)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}"


def hours(seconds: int | None) -> str:
    return f"{(seconds or 0) / 3600:.2f}"


def register_template_helpers(app: Flask) -> None:
    app.add_template_filter(localtime)
    app.add_template_filter(duration)
    app.add_template_filter(hours)

    @app.context_processor
    def inject_settings():
        def site_settings():
            if "tt_settings" not in g:
                g.tt_settings = get_settings()
            return g.tt_settings

        return {"site_settings": site_settings, "viewer_zone_name": lambda: str(_viewer_zone())}
