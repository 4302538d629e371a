"""Credit ledger services. Every change of a balance is a ledger row written in the same
transaction as the balance update, so the balance always equals the ledger's sum."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update

from app.auth.models import User
from app.billing.models import CreditEntry
from app.email import external_url, queue_email
from app.extensions import db


class InsufficientCredits(Exception):
    """The balance is lower than the price; nothing was charged."""

    def __init__(self, balance: int, price: int):
        super().__init__(f"balance {balance} is lower than the price {price}")
        self.balance = balance
        self.price = price


def add_credits(user: User, amount: int, kind: str, now: datetime, reason: str | None = None,
                actor=None) -> CreditEntry:
    """Add (or, for an adjustment, remove) credits with a ledger row. Never takes a balance below 0."""
    if kind not in ("signup_bonus", "purchase", "refund", "adjustment"):
        raise ValueError(f"unknown credit entry kind {kind!r}")
    if amount < 0:
        changed = db.session.execute(
            update(User).where(User.id == user.id, User.credit_balance >= -amount)
            .values(credit_balance=User.credit_balance + amount)
        ).rowcount
        if not changed:
            raise InsufficientCredits(current_balance(user.id), -amount)
    else:
        db.session.execute(update(User).where(User.id == user.id).values(credit_balance=User.credit_balance + amount))
        db.session.execute(update(User).where(User.id == user.id).values(low_credit_notified=None))
    entry = CreditEntry(user_id=user.id, created_at=now, kind=kind, amount=amount, reason=reason,
                        actor_id=actor.id if actor else None)
    db.session.add(entry)
    db.session.flush()
    db.session.expire(user, ["credit_balance", "low_credit_notified"])
    return entry


def charge_call(user_id: int, price: int, call_id: str, now: datetime) -> int:
    """Charge ``price`` credits for one API call; return the balance left.

    Atomic: a single conditional UPDATE, so concurrent calls can never take the balance below
    zero; the ledger row's unique call id means a call is never charged twice. Raises
    InsufficientCredits when the balance is short.
    """
    if price <= 0:
        return current_balance(user_id)
    result = db.session.execute(
        update(User).where(User.id == user_id, User.credit_balance >= price)
        .values(credit_balance=User.credit_balance - price)
        .returning(User.credit_balance)
    ).first()
    if result is None:
        raise InsufficientCredits(current_balance(user_id), price)
    db.session.add(CreditEntry(user_id=user_id, created_at=now, kind="usage", amount=-price, call_id=call_id))
    return result[0]


def current_balance(user_id: int) -> int:
    return db.session.scalar(select(User.credit_balance).where(User.id == user_id)) or 0


def ledger(user_id: int, limit: int = 100) -> list[CreditEntry]:
    return list(db.session.scalars(select(CreditEntry).where(CreditEntry.user_id == user_id)
                                   .order_by(CreditEntry.id.desc()).limit(limit)))


def verify_balances() -> list[tuple[int, str, int, int]]:
    """Accounts whose balance differs from their ledger's sum: (id, e-mail, balance, ledger sum)."""
    sums = select(CreditEntry.user_id, func.coalesce(func.sum(CreditEntry.amount), 0).label("total")) \
        .group_by(CreditEntry.user_id).subquery()
    rows = db.session.execute(
        select(User.id, User.email, User.credit_balance, func.coalesce(sums.c.total, 0))
        .outerjoin(sums, sums.c.user_id == User.id)
        .where(User.credit_balance != func.coalesce(sums.c.total, 0))
    ).all()
    return [(r[0], r[1], r[2], int(r[3])) for r in rows]


def check_low_credit(user_id: int, balance: int, config) -> None:
    """E-mail the owner once when the balance crosses a configured threshold downwards."""
    thresholds = [t for t in config["LOW_CREDIT_THRESHOLDS"] if balance <= t]
    if not thresholds:
        return
    level = min(thresholds)
    user = db.session.get(User, user_id)
    if user.low_credit_notified is not None and user.low_credit_notified <= level:
        return
    user.low_credit_notified = level
    queue_email(user.email, "low_credits", user.locale or config["BABEL_DEFAULT_LOCALE"], balance=balance,
                pricing_url=external_url("pages.show_pricing"), usage_url=external_url("usage.show_usage"))
