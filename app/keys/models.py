"""API keys. The secret is shown once; only its SHA-256 and a short prefix are kept."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.states import Transitions
from app.timeutil import utcnow

KEY_PREFIX = "twt_"  # every secret starts with it (the gateway looks up nothing else)


class KeyState(StrEnum):
    """A key's state, read from its times (not stored): see ApiKey.status."""

    ACTIVE = "active"
    ROTATING = "rotating"  # replaced; works until its grace period ends
    REVOKED = "revoked"
    EXPIRED = "expired"


USABLE_STATES = (KeyState.ACTIVE, KeyState.ROTATING)
# Rotation without a grace period revokes the old key at once; a key is rotated once.
KEY_TRANSITIONS = Transitions("API key", {
    KeyState.ACTIVE: {KeyState.ROTATING, KeyState.REVOKED, KeyState.EXPIRED},
    KeyState.ROTATING: {KeyState.REVOKED, KeyState.EXPIRED},
    KeyState.EXPIRED: {KeyState.REVOKED},
})


class ApiKey(db.Model):
    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    # The member who made it (None once their account is erased): a removed member's keys are
    # revoked unless the remover keeps them working for the organisation.
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    name: Mapped[str] = mapped_column(db.String(60))
    prefix: Mapped[str] = mapped_column(db.String(16))
    secret_hash: Mapped[str] = mapped_column(db.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    # Set when the key was rotated: it keeps working until then.
    expires_at: Mapped[datetime | None]
    rate_limit_per_minute: Mapped[int | None]  # below the account's limit, or None for the account's
    # The controls a customer sets on a key: the endpoint groups it may call (comma-separated;
    # None: all), the addresses it may be used from (comma-separated networks; None: anywhere),
    # and the moment it stops (None: never), with the time its 7-day reminder was queued.
    scopes: Mapped[str | None] = mapped_column(db.String(200))
    allowed_ips: Mapped[str | None] = mapped_column(db.Text)
    valid_until: Mapped[datetime | None]
    expiry_notice_at: Mapped[datetime | None]
    # Credit caps of this key alone (None: none), per UTC day and calendar month, and the period
    # whose 80 % alert was sent (the day, or the month's first day), so each period warns once.
    daily_cap: Mapped[int | None]
    monthly_cap: Mapped[int | None]
    cap_alert_day: Mapped[date | None]
    cap_alert_month: Mapped[date | None]

    def stops_at(self) -> datetime | None:
        """When the key stops working: the end of a rotation's grace or the chosen expiry."""
        moments = [m for m in (self.expires_at, self.valid_until) if m is not None]
        return min(moments) if moments else None

    def status(self, now: datetime) -> KeyState:
        if self.revoked_at is not None:
            return KeyState.REVOKED
        stops = self.stops_at()
        if stops is not None and stops <= now:
            return KeyState.EXPIRED
        if self.expires_at is not None:
            return KeyState.ROTATING
        return KeyState.ACTIVE

    def editable(self, now: datetime) -> bool:
        """Whether its owner may still change it: not revoked, not rotated out (a key past its
        chosen expiry may get a later one)."""
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)

    @property
    def scope_list(self) -> list[str]:
        return [s for s in (self.scopes or "").split(",") if s]

    @property
    def network_list(self) -> list[str]:
        return [n for n in (self.allowed_ips or "").split(",") if n]

    def usable(self, now: datetime) -> bool:
        return self.status(now) in USABLE_STATES
