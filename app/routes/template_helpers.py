"""Jinja filters and globals: local times, durations, settings."""

from __future__ import annotations

from datetime import datetime

from flask import Flask, g
from flask_login import current_user

from ..services.money import money_text
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


def format_duration(seconds: int | None, hours_format: str = "hm") -> str:
    """Seconds as ``H:MM`` (hours may exceed 24) or, for ``"decimal"``, as ``H.HH``."""
    seconds = int(seconds or 0)
    if hours_format == "decimal":
        return f"{seconds / 3600:.2f}"
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}"


def viewer_hours_format() -> str:
    if current_user and current_user.is_authenticated:
        return current_user.hours_format or "hm"
    return "hm"


def duration(seconds: int | None) -> str:
    """A duration in the viewer's chosen format (profile → "Show hours as"), on every page."""
    return format_duration(seconds, viewer_hours_format())


def count_noun(number: int, singular: str, plural: str) -> str:
    """``1 entry``, ``2 entries``, ``0 entries``."""
    return f"{number} {singular if number == 1 else plural}"


def register_template_helpers(app: Flask) -> None:
    app.add_template_filter(localtime)
    app.add_template_filter(duration)
    # One formatter for every page: reports used decimal hours, the dashboard h:mm.
    app.add_template_filter(duration, "hours")
    app.add_template_filter(count_noun)
    app.add_template_filter(money_text, "money")  # exact Decimal text; "%.2f" goes via float

    @app.context_processor
    def inject_settings():
        def site_settings():
            if "tt_settings" not in g:
                g.tt_settings = get_settings()
            return g.tt_settings

        return {"site_settings": site_settings, "viewer_zone_name": lambda: str(_viewer_zone()),
                "viewer_hours_format": viewer_hours_format}
