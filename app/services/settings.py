"""System settings (the single ``settings`` row)."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..models import Settings
from .validation import clean_name, clean_timezone
from .errors import ValidationError

CURRENCIES = ("EUR", "USD", "GBP", "CHF", "CAD", "AUD", "JPY", "SEK", "NOK", "DKK", "PLN", "CZK", "INR", "BRL", "NZD")


def get_settings() -> Settings:
    """Return the settings row, creating it with defaults if it is missing."""
    settings = db.session.get(Settings, 1)
    if settings is not None:
        return settings
    settings = Settings(id=1)
    db.session.add(settings)
    try:
        db.session.commit()
    except IntegrityError:  # another worker created it first
        db.session.rollback()
    return db.session.get(Settings, 1)


def update_settings(
    *, company_name: str, default_timezone: str, currency: str, allow_analytics: bool,
    changed_by: str = "settings",
) -> Settings:
    """Validate and store the admin-editable settings; returns the saved row.

    The analytics choice is written to installation.json first (what the
    telemetry gate reads); if that fails nothing is saved.
    """
    name = clean_name(company_name, "company_name")
    tz = clean_timezone(default_timezone, "default_timezone")
    currency = (currency or "").strip().upper()
    if currency not in CURRENCIES:
        raise ValidationError("Unknown currency.", "currency")
    settings = get_settings()
    settings.company_name = name
    settings.default_timezone = tz
    settings.currency = currency
    settings.allow_analytics = bool(allow_analytics)
    _store_telemetry_preference(bool(allow_analytics), changed_by)
    db.session.commit()
    return settings


def _store_telemetry_preference(enabled: bool, changed_by: str) -> None:
    from ..telemetry.installation import InstallationWriteError
    from ..telemetry.service import is_initialised, set_telemetry_preference

    if not is_initialised():
        return
    try:
        set_telemetry_preference(enabled, changed_by=changed_by, sync_settings=False)
    except InstallationWriteError:
        db.session.rollback()
        raise ValidationError("The analytics choice could not be saved (installation.json is "
                              "not writable); nothing was changed.", "allow_analytics") from None
