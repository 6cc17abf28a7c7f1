"""System settings (the single ``settings`` row)."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError

from .. import events
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
    *, company_name: str, default_timezone: str, currency: str, actor=None,
) -> Settings:
    """Validate and store the admin-editable settings; returns the saved row.

    The analytics choice is not one of them: it belongs to the telemetry client
    (``app.extensions['telemetry'].set_consent``), the one writer of consent.
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
    db.session.commit()
    events.announce(events.settings_updated, actor=actor, settings=settings)
    return settings
