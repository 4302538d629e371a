"""Published versions of the legal documents, and who was told about significant changes."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.retention import PERSONAL, Rule, register

DOCUMENTS = ("privacy", "cookies", "terms")


class PolicyVersion(db.Model):
    __tablename__ = "policy_versions"
    __table_args__ = (UniqueConstraint("document", "version", "locale"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    document: Mapped[str] = mapped_column(db.String(20))
    version: Mapped[str] = mapped_column(db.String(32))
    locale: Mapped[str] = mapped_column(db.String(16))
    published_on: Mapped[date]
    effective_on: Mapped[date]
    significant: Mapped[bool] = mapped_column(default=False)
    summary: Mapped[str] = mapped_column(db.Text)
    body: Mapped[str] = mapped_column(db.Text)


class PolicyNotice(db.Model):
    """One user told about one significant version: e-mailed once, then viewed or acknowledged."""

    __tablename__ = "policy_notices"
    __table_args__ = (UniqueConstraint("user_id", "document", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True, info=PERSONAL)
    document: Mapped[str] = mapped_column(db.String(20))
    version: Mapped[str] = mapped_column(db.String(32))
    emailed_at: Mapped[datetime | None]
    viewed_at: Mapped[datetime | None]
    acknowledged_at: Mapped[datetime | None]


register(Rule(
    name="policy_notices.kept",
    model=PolicyNotice,
    action="keep",
    days_setting="ACCOUNT_PURGE_DAYS",
    default_days=30,
    description="Records of who was told about a significant policy change; deleted with the account.",
    legal_basis="accountability for changes of the terms (while the account exists)",
))
