"""The tests' oracle for money, written apart from app/services/money.py's SQL."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal


def amount_of(seconds: int, rate: Decimal) -> Decimal:
    """The rule of docs/api.md, in Decimal: an entry's hours x rate, half up to the cent."""
    return (Decimal(seconds) * rate / 3600).quantize(Decimal("0.01"), ROUND_HALF_UP)
