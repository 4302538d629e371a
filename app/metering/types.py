"""What metering works with: the key as the gateway sees it, one call's record, the outcome of
metering it, the errors, and the interface both meters keep (``Meter``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

WINDOW_SECONDS = 60
SEP = "\x1f"  # the ASCII unit separator: never part of an id, a method, a route pattern, an IP or a time


@dataclass(frozen=True)
class KeyInfo:
    """What the gateway needs to know about a usable key."""

    id: int
    organisation_id: int
    rate_limit: int | None
    expires_at: datetime | None
    epoch: str = ""  # the key-cache generation it was read under (RedisMeter)
    secret_hash: str = ""
    last_used_at: datetime | None = None  # as read (DatabaseMeter: its last use is written once a minute)
    scopes: frozenset[str] | None = None  # the endpoint groups it may call; None: all
    networks: tuple = ()  # ipaddress networks it may be used from; empty: anywhere
    # The same allowlist for the check on every call: single addresses as (version, int) for a set
    # lookup, ranges as (version, network int, mask int); see ``lookups.key_info``.
    hosts: frozenset = frozenset()
    ranges: tuple = ()
    daily_cap: int | None = None  # credits this key may spend per UTC day / calendar month
    monthly_cap: int | None = None
    spend_limit: int | None = None  # credits all the account's keys may spend per calendar month
    alert_levels: tuple[int, ...] = ()  # balances whose crossing the owner is told of, highest first

    @property
    def capped(self) -> bool:
        """Whether a charge must be checked against a cap or the spend limit."""
        return bool(self.daily_cap or self.monthly_cap or self.spend_limit)

    def usable(self, now: datetime) -> bool:
        return self.expires_at is None or self.expires_at > now

    def same_controls(self, other: KeyInfo) -> bool:
        """Whether ``other`` (the key read again) allows exactly what this one did."""
        return (self.scopes, self.networks, self.expires_at, self.rate_limit, self.daily_cap, self.monthly_cap,
                self.spend_limit) == (other.scopes, other.networks, other.expires_at, other.rate_limit,
                                      other.daily_cap, other.monthly_cap, other.spend_limit)

    def allows_scope(self, scope: str) -> bool:
        return self.scopes is None or not scope or scope in self.scopes

    def allows_address(self, address) -> bool:
        """Whether the caller's ``address`` (an ipaddress address, or None) is in the allowlist: a
        set lookup for single addresses, integer masks for ranges (with parsing, ~3 µs for 50 single
        addresses where ``address in network`` for each took ~13 µs)."""
        if not self.networks:
            return True
        if address is None:
            return False
        version, value = address.version, int(address)
        if (version, value) in self.hosts:
            return True
        return any(v == version and value & mask == net for v, net, mask in self.ranges)


@dataclass(slots=True)
class CallRecord:
    """One call as the log keeps it (the meter adds the status and the credits charged)."""

    request_id: str
    method: str
    endpoint: str
    ip: str | None
    created_at: datetime
    latency_ms: int

    def pack(self, organisation_id: int, key_id: int) -> str:
        """One string for the Redis stream (the meter appends the status and the credits charged)."""
        return SEP.join((self.request_id, str(organisation_id), str(key_id), self.method, self.endpoint, self.ip or "",
                         self.created_at.isoformat(), str(self.latency_ms)))

    def row(self, organisation_id: int, key_id: int | None, status: int, credits: int) -> dict:
        """The call log's columns, as ``write.write_records`` takes them."""
        return {"request_id": self.request_id, "organisation_id": organisation_id, "key_id": key_id,
                "created_at": self.created_at,
                "method": self.method, "endpoint": self.endpoint, "status": status, "credits": credits,
                "latency_ms": self.latency_ms, "ip": self.ip, "ip_truncated": False}


def unpack(fields: dict) -> dict:
    """A packed stream record as the call log's columns (see ``CallRecord.row``)."""
    request_id, user, key, method, endpoint, ip, created, latency, status, credits = fields["v"].split(SEP)
    return {"request_id": request_id, "organisation_id": int(user), "key_id": int(key) if key else None,
            "created_at": datetime.fromisoformat(created), "method": method, "endpoint": endpoint,
            "status": int(status), "credits": int(credits), "latency_ms": int(latency), "ip": ip or None,
            "ip_truncated": False}


@dataclass(frozen=True)
class Outcome:
    """What metering decided: the final status, the credits charged and the balance left."""

    status: int
    credits: int
    balance: int
    limit: int
    remaining: int
    reset: int  # seconds until the window has room again
    retry_after: int = 0
    # Which limit refused the call, when a cap did: "day" or "month" (the key's cap, 402) or
    # "spend" (the account's monthly spend limit, 429), with that limit and what was used of it.
    capped_by: str = ""
    cap: int = 0
    used: int = 0
    # Credits the key has spent today and this month after this call (None: not counted, no cap).
    day_used: int | None = None
    month_used: int | None = None

    def headers(self) -> dict:
        """IETF draft RateLimit headers (draft-ietf-httpapi-ratelimit-headers), the balance and Retry-After."""
        headers = {
            "RateLimit-Policy": f'"per-key";q={self.limit};w={WINDOW_SECONDS}',
            "RateLimit": f'"per-key";r={self.remaining};t={self.reset}',
            "X-Credits-Remaining": str(self.balance),
        }
        if self.status == 429:
            headers["Retry-After"] = str(max(1, self.retry_after))
        return headers


@dataclass(frozen=True)
class Charge:
    """One charged call, as the listeners of ``hooks.on_charge`` see it."""

    key: KeyInfo
    price: int
    before: int  # the balance before and after the charge
    after: int
    day_used: int | None = None  # the key's credits today and this month, this call included (None: not counted)
    month_used: int | None = None


class CapReached(Exception):
    """A charge would pass the key's cap or the account's spend limit; nothing was charged."""

    def __init__(self, capped_by: str, cap: int, used: int):
        super().__init__(f"{capped_by} cap {cap} reached ({used} used)")
        self.capped_by, self.cap, self.used = capped_by, cap, used


class KeyChanged(Exception):
    """The key was revoked, rotated out or its owner suspended since this process cached it."""


class MeteringUnavailable(Exception):
    """The metering store could not be reached; the call was neither served nor charged."""


class InsufficientCredits(Exception):
    """The balance is lower than the price; nothing was charged."""

    def __init__(self, balance: int, price: int):
        super().__init__(f"balance {balance} is lower than the price {price}")
        self.balance = balance
        self.price = price


class Meter(Protocol):
    """What the gateway, billing and the CLI may ask of a meter (``DatabaseMeter``, ``RedisMeter``)."""

    name: str

    def find_key(self, secret: str, now: datetime) -> KeyInfo | None:
        """The usable key for ``secret``, or None."""

    def check(self, key: KeyInfo, limit: int, price: int, record: CallRecord, now: datetime) -> Outcome:
        """Before the backend's work: count the call against the key's window (429 when full) and
        check the balance and caps cover ``price`` (402, or 429 for the spend limit). Nothing is
        charged; only a refusal is logged."""

    def settle(self, key: KeyInfo, limit: int, price: int, status: int, record: CallRecord, now: datetime,
               checked: Outcome | None = None) -> Outcome:
        """Once the answer is known: charge ``price`` (when ``status`` is a success; 402 when the
        balance is short, 402/429 at a cap) and log the call. ``checked``: what ``check`` answered
        for this call, which counted it already; without it the call is counted here."""

    def current_key(self, key: KeyInfo, now: datetime) -> KeyInfo | None:
        """``key`` as committed now (a cached copy is read again when it changed), or None."""

    def balance(self, organisation_id: int) -> int:
        """The spendable balance as committed (see ``services.balance``)."""

    def after_call(self) -> None:
        """Work left once the response is ready (the Redis meter's flushing)."""

    def close(self, forget: bool = False) -> None:
        """Release connections and threads."""


class MeteredCall:
    """One API call through the meter: ``check()`` before the backend's work, ``settle(status)``
    once the answer is known. A call is counted against the window once and charged at most once."""

    def __init__(self, meter: Meter, key: KeyInfo, limit: int, price: int, request_id: str, method: str,
                 endpoint: str, ip: str | None, now: datetime, started: float, clock):
        self.meter, self.key, self.limit, self.price, self.now = meter, key, limit, price, now
        self._record = (request_id, method, endpoint, ip, now)
        self._started, self._clock = started, clock
        self._checked: Outcome | None = None

    def _record_now(self) -> CallRecord:
        return CallRecord(*self._record, int((self._clock() - self._started) * 1000))

    def check(self) -> Outcome | None:
        """Count the call and check the balance covers its price: the refusal (logged), or None."""
        outcome = self._checked = self.meter.check(self.key, self.limit, self.price, self._record_now(), self.now)
        return outcome if outcome.status >= 400 else None

    def quote(self) -> Outcome:
        """What a GET would get now, charging nothing (HEAD): counted against the window like any
        call, the balance and caps checked against the price; logged with no credits (a refusal by
        the check itself, an answer by a second, chargeless step)."""
        outcome = self._checked = self.meter.check(self.key, self.limit, self.price, self._record_now(), self.now)
        if outcome.status < 400:
            self.meter.settle(self.key, self.limit, 0, 200, self._record_now(), self.now, checked=outcome)
        return outcome

    def settle(self, status: int) -> Outcome:
        """Charge the price when ``status`` is a success and log the call, with its final status."""
        price = self.price if status < 400 else 0
        return self.meter.settle(self.key, self.limit, price, status, self._record_now(), self.now,
                                 checked=self._checked)
