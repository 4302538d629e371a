"""Tax on a credit pack: the rate of the buyer's country from configuration (``TAX_RATES``), none
for a country without one, and the EU reverse charge for a business with a valid VAT number in
another member state than the seller's. The buyer's country decides: a buyer whose country is not
known is charged no tax (never the seller's), and the country the payment provider confirms
re-prices an order whose amount is already paid (``tax_within``). Tax ids are checked by format and check digits with
python-stdnum (EU VAT, GB VAT, China's unified social credit code). No request, no database.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from stdnum.cn import uscc
from stdnum.eu import vat as eu_vat
from stdnum.exceptions import ValidationError
from stdnum.gb import vat as gb_vat

EU = frozenset(code.upper() for code in eu_vat.MEMBER_STATES if code != "xi")  # XI: Northern Ireland's prefix
VAT_PREFIX = {"GR": "EL"}  # Greece's VAT numbers start with EL
OTHER_TAX_ID = 40


class InvalidTaxId(ValueError):
    """Not a valid tax id for that country (format or check digits)."""


@dataclass(frozen=True)
class Tax:
    """The tax on a net amount: ``treatment`` is standard, reverse_charge or none."""

    treatment: str
    rate: Decimal
    net_cents: int
    tax_cents: int

    @property
    def total_cents(self) -> int:
        return self.net_cents + self.tax_cents

    @property
    def rate_text(self) -> str:
        return format(self.rate.normalize(), "f")


def parse_rates(text: str) -> dict[str, Decimal]:
    """``"DE:19,FR:20,FI:25.5"`` as {"DE": Decimal("19"), ...}; raises ValueError."""
    rates = {}
    for entry in (e.strip() for e in (text or "").split(",")):
        if not entry:
            continue
        country, _, rate = entry.partition(":")
        country = country.strip().upper()
        value = Decimal(rate.strip())
        if len(country) != 2 or not country.isalpha() or not Decimal(0) <= value < Decimal(100):
            raise ValueError(entry)
        rates[country] = value
    return rates


def normalise_tax_id(country: str, tax_id: str) -> str:
    """The tax id in its compact form, checked for ``country``; raises InvalidTaxId."""
    country = (country or "").upper()
    value = "".join((tax_id or "").split()).upper()
    try:
        if country in EU:
            prefix = VAT_PREFIX.get(country, country)
            value = eu_vat.validate(value if value.startswith(prefix) else prefix + value)
            if not value.startswith(prefix):
                raise InvalidTaxId(tax_id)
            return value
        if country == "GB":
            return "GB" + gb_vat.validate(value.removeprefix("GB"))
        if country == "CN":
            return uscc.validate(value)
    except ValidationError as exc:
        raise InvalidTaxId(tax_id) from exc
    if not value or len(value) > OTHER_TAX_ID or not all(ch.isalnum() or ch in "-./" for ch in value):
        raise InvalidTaxId(tax_id)
    return value


def _rule(country: str | None, buyer_tax_id: str | None, seller_country: str,
          rates: dict[str, Decimal]) -> tuple[str, Decimal]:
    """The treatment and rate for a buyer in ``country`` (None: not known, so no tax)."""
    country = (country or "").upper()
    rate = rates.get(country) if country else None
    if rate is None:
        return "none", Decimal(0)
    if country in EU and seller_country.upper() in EU and country != seller_country.upper() and buyer_tax_id:
        try:
            normalise_tax_id(country, buyer_tax_id)
        except InvalidTaxId:
            pass
        else:
            return "reverse_charge", Decimal(0)
    return "standard", rate


def tax_for(net_cents: int, buyer_country: str | None, buyer_tax_id: str | None, seller_country: str,
            rates: dict[str, Decimal]) -> Tax:
    """The tax a buyer pays on ``net_cents``, by the rule of the buyer's country. A buyer whose
    country is not known pays none (the seller's country is no guess for a buyer's); reverse
    charge needs a valid VAT number of another EU state than the seller's."""
    treatment, rate = _rule(buyer_country, buyer_tax_id, seller_country, rates)
    tax = (Decimal(net_cents) * rate / 100).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return Tax(treatment, rate, net_cents, int(tax))


def tax_within(total_cents: int, buyer_country: str | None, buyer_tax_id: str | None, seller_country: str,
               rates: dict[str, Decimal]) -> Tax:
    """The tax contained in an amount already paid, by the rule of the buyer's country: net and
    tax add up to ``total_cents``."""
    treatment, rate = _rule(buyer_country, buyer_tax_id, seller_country, rates)
    tax = int((Decimal(total_cents) * rate / (100 + rate)).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    return Tax(treatment, rate, total_cents - tax, tax)
