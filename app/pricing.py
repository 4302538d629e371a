"""The price list: credit packs and the credit cost of each API endpoint.

One structure serves the pricing page, billing (which packs can be bought) and the API
gateway (what a call costs). Deployments replace it through ``app.config["PRICING"]``.
Amounts are integers in the currency's minor unit (cents), never floats.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

from flask import current_app
from flask_babel import lazy_gettext as _l
from werkzeug.routing import Map, MapAdapter, Rule


@dataclass(frozen=True)
class CreditPack:
    id: str
    name: str
    price_cents: int
    currency: str
    credits: int

    @property
    def price(self) -> float:
        """The price in major units, for display only."""
        return self.price_cents / 100

    @property
    def cents_per_1000_credits(self) -> float:
        return self.price_cents * 1000 / self.credits


@dataclass(frozen=True)
class EndpointPrice:
    method: str
    path: str
    credits: int
    description: str
    scope: str = ""  # the group a restricted key must hold to call it ("" = every key may)


@dataclass(frozen=True)
class Pricing:
    currency: str
    signup_credits: int
    rate_limit_per_minute: int
    max_keys: int
    credit_packs: tuple[CreditPack, ...]
    endpoints: tuple[EndpointPrice, ...]

    def pack(self, pack_id: str) -> CreditPack | None:
        return next((p for p in self.credit_packs if p.id == pack_id), None)

    @cached_property
    def scopes(self) -> tuple[str, ...]:
        """The endpoint groups a key can be restricted to, in price-list order."""
        return tuple(dict.fromkeys(e.scope for e in self.endpoints if e.scope))

    def endpoint(self, method: str, path: str) -> EndpointPrice | None:
        return next(
            (e for e in self.endpoints if e.method == method.upper() and e.path == path), None
        )

    @cached_property
    def routes(self) -> MapAdapter:
        """The priced endpoints as Werkzeug rules, built once per price list: ``{name}`` is one
        non-empty path segment, fixed paths win over parameters (``tweets/search`` before
        ``tweets/{id}``). ``match(path, method)`` gives (index into ``endpoints``, parameters)."""
        rules = [Rule(re.sub(r"\{(\w+)\}", r"<\1>", e.path), endpoint=i, methods=[e.method])
                 for i, e in enumerate(self.endpoints)]
        return Map(rules, merge_slashes=False).bind("localhost")


DEFAULT_PRICING = Pricing(
    currency="USD",
    signup_credits=100,
    rate_limit_per_minute=60,
    max_keys=10,
    credit_packs=(
        CreditPack("starter", _l("Starter"), 900, "USD", 10_000),
        CreditPack("growth", _l("Growth"), 4_900, "USD", 60_000),
        CreditPack("scale", _l("Scale"), 19_900, "USD", 300_000),
    ),
    endpoints=(
        EndpointPrice("GET", "/api/v1/tweets/search", 10, _l("Up to 100 posts matching a search query."),
                      "tweets:read"),
        EndpointPrice("GET", "/api/v1/tweets/{id}", 1, _l("One post with its text, author and metrics."),
                      "tweets:read"),
        EndpointPrice("GET", "/api/v1/users/{username}", 1, _l("A public profile."), "users:read"),
        EndpointPrice("GET", "/api/v1/users/{username}/tweets", 5, _l("Up to 100 recent posts of a user."),
                      "users:read"),
        EndpointPrice("GET", "/api/v1/account", 0, _l("Your balance and usage. Free of charge.")),
    ),
)


def get_pricing() -> Pricing:
    """The price list in force for the current application."""
    return current_app.config["PRICING"]
