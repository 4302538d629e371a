"""The credit ledger: every change of a balance is a row."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.retention import Rule, register
from app.timeutil import utcnow

KINDS = ("signup_bonus", "purchase", "refund", "usage", "adjustment")


class CreditEntry(db.Model):
    __tablename__ = "credit_ledger"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    kind: Mapped[str] = mapped_column(db.String(20))
    amount: Mapped[int]  # positive: credits added; negative: credits used or removed
    # The API call a usage entry pays for: unique, so a call is never charged twice.
    call_id: Mapped[str | None] = mapped_column(db.String(32), unique=True)
    reason: Mapped[str | None] = mapped_column(db.String(200))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


register(Rule(
    name="credit_ledger.kept",
    model=CreditEntry,
    action="keep",
    days_setting="ACCOUNT_PURGE_DAYS",
    default_days=30,
    description="Credit ledger entries are kept with the account: they are its billing record.",
    legal_basis="contract and accounting records while the account exists",
))
