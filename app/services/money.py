"""Money: the one rounding rule every amount follows (reports, the CSV, the API, the pages).

An entry's amount is its hours times its rate, rounded once, half up, to the cent:
``(duration_seconds x rate / 3600).quantize(0.01, ROUND_HALF_UP)``. Every total (a report
row, the grand total) is the exact sum of those entry amounts, so a total always equals
the sum of the rows and of the CSV's ``amount`` column below it.

The rule is computed in integer cents, the same expression in SQL (both databases) and
in Python: with ``x = seconds x rate in cents`` (cent-seconds), the amount in cents is
``(2x + 3600) // 7200`` = floor(x / 3600 + 1/2), half up for the non-negative amounts
rates and durations give. Integers because SQLite has no decimal type (its SUM of a
NUMERIC column is a float); PostgreSQL's bigint division truncates like SQLite's, which
is the floor for non-negative operands. Rates are at most two decimals
(:func:`app.services.validation.clean_rate`), so a rate in cents is exact.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import BigInteger, cast, func

CENT = Decimal("0.01")
_SECONDS_PER_HOUR = 3600


def rate_cents_sql(rate):
    """SQL: a NUMERIC(12, 2) rate as whole cents (NULL stays NULL)."""
    return cast(func.round(rate * 100), BigInteger)


def entry_cents(seconds, rate_cents):
    """One entry's amount in whole cents, rounded half up: the rule, written once.

    The same expression serves SQL and Python: given columns it builds the SQL (NULL
    when the entry has no rate; ``//`` renders as integer division on both databases,
    where SQLAlchemy 2's ``/`` would be true division), given ints it computes.
    """
    return (seconds * rate_cents * 2 + _SECONDS_PER_HOUR) // (2 * _SECONDS_PER_HOUR)


def from_cents(cents: int) -> Decimal:
    """Whole cents as money with two places: ``106663`` → ``Decimal("1066.63")``."""
    return Decimal(int(cents)).scaleb(-2).quantize(CENT)


def money_text(value: Decimal) -> str:
    """Money as locale-neutral text with two decimals (``"1066.63"``), exact: no float
    (Jinja's ``"%.2f"|format`` goes through one). The CSV and the reports page use it."""
    return f"{Decimal(value).quantize(CENT, ROUND_HALF_UP):f}"
