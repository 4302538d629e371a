"""Mail choices from the account area and from one click in a mail (RFC 8058). No request, no
commit (flush only)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select

from app import mail_preferences
from app.auth.models import User
from app.billing.models import AlertRecipient
from app.extensions import db
from app.mail_preferences import BY_NAME, OPTIONAL, Category, Unsubscribe
from app.organisations.models import Membership


@dataclass(frozen=True)
class Unsubscribed:
    category: Category
    # "account": the category is off for the account; "address": the other address that got the
    # account's alerts gets none any more; "nothing": the address no longer gets this mail.
    effect: str


def read_link(secret_key: str, token: str) -> Unsubscribe | None:
    """What an unsubscribe link names; None when the link is not one of ours or was altered, or
    its account is gone."""
    link = mail_preferences.read_unsubscribe_token(secret_key, token)
    if link is None:
        return None
    user = db.session.get(User, link.user_id)
    return None if user is None or user.erased_at is not None else link


def unsubscribe(secret_key: str, token: str, now: datetime) -> Unsubscribed | None:
    """Act on a one-click unsubscribe: the account's own address turns the category off; another
    address the account sends its alerts to is removed from them. None for a bad link."""
    link = read_link(secret_key, token)
    if link is None:
        return None
    user = db.session.get(User, link.user_id)
    category = BY_NAME[link.category]
    if link.is_for(secret_key, user.email):
        mail_preferences.choose(user.id, category.name, False, now, "one-click")
        return Unsubscribed(category, "account")
    # Another address gets the alerts of an organisation the link's person belongs to.
    theirs = select(Membership.organisation_id).where(Membership.user_id == user.id)
    others = db.session.scalars(select(AlertRecipient).where(AlertRecipient.organisation_id.in_(theirs))).all()
    match = next((r for r in others if link.is_for(secret_key, r.email)), None)
    if match is None:
        return Unsubscribed(category, "nothing")
    db.session.execute(delete(AlertRecipient).where(AlertRecipient.id == match.id))
    db.session.flush()
    return Unsubscribed(category, "address")


def save_choices(user: User, wanted: set[str], now: datetime) -> int:
    """Turn each optional category on when it is in ``wanted``, off otherwise; how many changed."""
    return sum(mail_preferences.choose(user.id, name, name in wanted, now, "page") for name in OPTIONAL)
