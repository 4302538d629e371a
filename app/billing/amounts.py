"""Money between currency units ("4.50", what people type and accountants read) and the minor
units every amount is stored in (450), by each currency's own number of decimals (babel)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from babel.numbers import get_currency_precision


class TooPrecise(ValueError):
    """An amount with more decimals than the currency has (4.505 dollars)."""


def _digits(currency: str) -> int:
    return get_currency_precision(currency.upper())


def to_minor(amount: Decimal | None, currency: str) -> int | None:
    """Decimal("4.50") as 450; None stays None. Raises TooPrecise for more decimals than the
    currency has (a refund is never rounded)."""
    if amount is None:
        return None
    minor = amount.scaleb(_digits(currency))
    if minor != minor.to_integral_value():
        raise TooPrecise(str(amount))
    return int(minor)


def rounded_to_minor(amount: Decimal | None, currency: str) -> int | None:
    """Decimal("4.505") as 451 (half up): a filter's bound; None stays None."""
    if amount is None:
        return None
    return int(amount.scaleb(_digits(currency)).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def in_units(minor: int, currency: str) -> str:
    """450 as "4.50"."""
    return format(Decimal(minor).scaleb(-_digits(currency)), "f")
