"""Proof of consent and the daily analytics counters."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.retention import PERSONAL, Rule, register
from app.timeutil import utcnow


class ConsentMethod(StrEnum):
    """How a cookie decision was made (``ConsentRecord.method``)."""

    ACCEPT_ALL = "accept_all"
    REJECT_ALL = "reject_all"
    SAVE = "save"
    WITHDRAW = "withdraw"
    GPC = "gpc"  # recorded, never chosen: Global Privacy Control turned analytics off


VISITOR_METHODS = (ConsentMethod.ACCEPT_ALL, ConsentMethod.REJECT_ALL, ConsentMethod.SAVE, ConsentMethod.WITHDRAW)


class SeparateConsentKind(StrEnum):
    """What a separate consent (PIPL Art. 14) is given to (``SeparateConsent.kind``)."""

    CROSS_BORDER = "cross_border"  # the transfer of one's data abroad (Art. 39)
    GUARDIAN = "guardian"  # a guardian's, for a child under 14 (Art. 31)


class ConsentRecord(db.Model):
    """One cookie decision. No IP address and no user agent are kept."""

    __tablename__ = "consent_records"

    id: Mapped[int] = mapped_column(primary_key=True)
    consent_id: Mapped[str] = mapped_column(db.String(36), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True,
                                                info=PERSONAL)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    categories: Mapped[str] = mapped_column(db.String(200))  # comma-separated ConsentCategory, necessary first
    method: Mapped[str] = mapped_column(db.String(16))  # a ConsentMethod
    policy_version: Mapped[str] = mapped_column(db.String(32))
    banner_hash: Mapped[str] = mapped_column(db.String(64))
    locale: Mapped[str] = mapped_column(db.String(16))

    @property
    def category_set(self) -> set[str]:
        return set(filter(None, self.categories.split(",")))


class SeparateConsent(db.Model):
    """A consent given on its own, apart from the terms (PIPL Art. 14): to the transfer of one's
    data abroad (Art. 39), or a guardian's for a child under 14 (Art. 31). The text shown is
    kept as its hash."""

    __tablename__ = "separate_consents"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True, info=PERSONAL)
    kind: Mapped[str] = mapped_column(db.String(20))  # a SeparateConsentKind
    given_at: Mapped[datetime] = mapped_column(default=utcnow)
    locale: Mapped[str] = mapped_column(db.String(16))
    notice_sha256: Mapped[str] = mapped_column(db.String(64))
    withdrawn_at: Mapped[datetime | None]


class PageViewDay(db.Model):
    """Page views per day and route (the route pattern, never a raw path with ids or tokens)."""

    __tablename__ = "analytics_page_views"
    __table_args__ = (UniqueConstraint("day", "path"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(index=True)
    path: Mapped[str] = mapped_column(db.String(200))
    views: Mapped[int] = mapped_column(default=0)


class VisitorDay(db.Model):
    """A visitor seen on a day, as a hash of the analytics id keyed with that day's random salt:
    once the salt is gone (the next day), nobody can tell whose it was or link it to another day."""

    __tablename__ = "analytics_visitors"
    __table_args__ = (UniqueConstraint("day", "visitor_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(index=True)
    visitor_hash: Mapped[str] = mapped_column(db.String(64), info=PERSONAL)


class AnalyticsSalt(db.Model):
    """Today's random salt for visitor hashes; deleted when its day is over, never stored longer."""

    __tablename__ = "analytics_salts"

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(unique=True)
    salt: Mapped[str] = mapped_column(db.String(64))


register(Rule(
    name="consent_records.expired",
    model=ConsentRecord,
    action="delete",
    days_setting="CONSENT_RECORD_DAYS",
    default_days=3 * 365,
    description="Proof of each cookie decision is kept N days (3 years) to show consent was given, then deleted.",
    selects=lambda cutoff: ConsentRecord.created_at < cutoff,
))
register(Rule(
    name="analytics_visitors.expired",
    model=VisitorDay,
    action="delete",
    days_setting="ANALYTICS_VISITOR_DAYS",
    default_days=395,
    description="Daily visitor hashes (for unique-visitor counts) are deleted after N days.",
    selects=lambda cutoff: VisitorDay.day < cutoff.date(),
))
register(Rule(
    name="analytics_salts.past",
    model=AnalyticsSalt,
    action="delete",
    days_setting="ANALYTICS_SALT_DAYS",
    default_days=0,
    description="The day's random salt for visitor hashes is deleted once its day is over (also by the first "
                "page view of the next day), so no hash can be recomputed or linked to a visitor.",
    selects=lambda cutoff: AnalyticsSalt.day < cutoff.date(),
))
register(Rule(
    name="separate_consents.kept",
    model=SeparateConsent,
    action="keep",
    days_setting="ACCOUNT_PURGE_DAYS",
    default_days=30,
    description="Separate consents (transfer abroad, a guardian's) are kept as proof while the account is open, "
                "and erased with it.",
    legal_basis="legal obligation (PIPL Art. 14, 31 and 39: proof of separate consent)",
))
