"""Mail categories and each person's choice of the optional ones.

Every mail template belongs to one category. Optional categories (alerts and notices a person may
do without) can be turned off on ``/account/notifications`` or with one click from the mail itself
(RFC 8058); their mail is then not sent. Required categories (security, receipts, legal notices,
answers to one's own requests, staff work) cannot be turned off, and the page says why.

A person's choices are rows of ``mail_preferences``, one per category they changed; a category
without a row has its default (on, except the staff-access notices, which a person asks for).
No request, no commit (flush only).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime

from flask_babel import lazy_gettext as _l
from itsdangerous import BadData, URLSafeSerializer
from sqlalchemy import ForeignKey, select
from sqlalchemy.orm import Mapped, mapped_column

from app.database import insert_once
from app.extensions import db


@dataclass(frozen=True)
class Category:
    name: str
    label: object
    description: object
    optional: bool
    default: bool = True
    why_required: object = None  # required categories: why they cannot be turned off


CATEGORIES: tuple[Category, ...] = (
    Category("low_balance", _l("Low balance alerts"),
             _l("When your credit balance falls to one of the alert thresholds you set under Alerts & limits."),
             optional=True),
    Category("key_caps", _l("Key cap alerts"),
             _l("When an API key has used 80 percent of its daily or monthly cap."), optional=True),
    Category("key_expiry", _l("API key expiry reminders"),
             _l("A week before an API key you gave an end date stops working."), optional=True),
    Category("policy_changes", _l("Privacy and cookie policy changes"),
             _l("A summary of each significant change to our privacy and cookie policies. Without the e-mail "
                "you still see the notice on the site until you acknowledge it."), optional=True),
    Category("staff_access", _l("Staff access to your data"),
             _l("Each time our staff open your personal data. Every access stays listed on your Privacy page "
                "either way."), optional=True, default=False),
    Category("security", _l("Security"),
             _l("Sign-ins from a new device, changes to your password, e-mail address, second factors and API "
                "keys, and actions our staff took on your account."), optional=False,
             why_required=_l("You must hear of these at once, in case it was not you.")),
    Category("receipts", _l("Payments and receipts"),
             _l("Receipts for the credits you buy, refunds and failed payments."), optional=False,
             why_required=_l("They are the record of what you paid, which we must give you.")),
    Category("legal", _l("Legal notices"),
             _l("Significant changes to our Terms of Service, a personal-data breach that concerns you, and the "
                "closing or erasure of your account."), optional=False,
             why_required=_l("The law or our contract with you requires us to tell you.")),
    Category("requests", _l("Answers to your requests"),
             _l("Replies to your support messages and privacy requests, and confirmation links for addresses "
                "you add."), optional=False,
             why_required=_l("You asked us for them; each one answers a request of yours.")),
    Category("team", _l("Your organisations"),
             _l("Invitations to an organisation, and members joining, leaving or changing role in the organisations "
                "you own."), optional=False,
             why_required=_l("They say who can use your organisation's credits and keys.")),
    Category("staff", _l("Staff work"),
             _l("Invitations to the staff console and the daily digest of open privacy requests."), optional=False,
             why_required=_l("They are part of your work as a staff member.")),
)
BY_NAME = {category.name: category for category in CATEGORIES}
OPTIONAL = tuple(category.name for category in CATEGORIES if category.optional)

# The category of each mail template (templates/email/<name>/). A template missing here is
# treated as required mail; tests/test_email.py fails until it is listed.
TEMPLATES = {
    "low_credits": "low_balance",
    "key_cap_alert": "key_caps",
    "api_key_expiring": "key_expiry",
    "policy_changed": "policy_changes",  # the Terms' changes are sent as "legal" (app.legal)
    "staff_access": "staff_access",
    "account_changed_by_staff": "security",
    "api_key_created": "security",
    "confirm_new_email": "security",
    "email_changed": "security",
    "new_device_sign_in": "security",
    "passkey_changed": "security",
    "passkey_cloned": "security",
    "password_changed": "security",
    "recovery_code_used": "security",
    "register_existing": "security",
    "reset_password": "security",
    "two_factor_changed": "security",
    "verify_email": "security",
    "order_paid": "receipts",
    "order_refunded": "receipts",
    "payment_failed": "receipts",
    "refund_failed": "receipts",
    "account_closed": "legal",
    "account_erased": "legal",
    "breach_notice": "legal",
    "alert_recipient_confirm": "requests",
    "contact_received": "requests",
    "contact_reply": "requests",
    "rights_code": "requests",
    "rights_receipt": "requests",
    "rights_update": "requests",
    "dispute_closed": "staff",
    "dispute_opened": "staff",
    "rights_digest": "staff",
    "staff_invitation": "staff",
    "organisation_invitation": "team",
    "organisation_member_joined": "team",
    "organisation_member_removed": "team",
    "organisation_role_changed": "team",
    "organisation_closed": "team",
}


def category_of(template: str, override: str | None = None) -> Category:
    """The category a message of ``template`` belongs to (``override`` when the caller knows better)."""
    return BY_NAME[override or TEMPLATES.get(template, "legal")]


class MailPreference(db.Model):
    """A person's choice for one mail category (only categories they changed have a row)."""

    __tablename__ = "mail_preferences"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    category: Mapped[str] = mapped_column(db.String(32), primary_key=True)
    enabled: Mapped[bool]
    changed_at: Mapped[datetime]
    # How it was changed: "page" (the notifications page), "one-click" (from a mail), "migrated".
    source: Mapped[str] = mapped_column(db.String(16))


def choices(user_id: int) -> dict[str, bool]:
    """Whether each optional category is on for the person (their choice, else the default)."""
    stored = {category: enabled for category, enabled in db.session.execute(
        select(MailPreference.category, MailPreference.enabled).where(MailPreference.user_id == user_id))}
    return {name: stored.get(name, BY_NAME[name].default) for name in OPTIONAL}


def wants(user_id: int, category: str) -> bool:
    """Whether mail of ``category`` may be sent to the person (required mail always may)."""
    if not BY_NAME[category].optional:
        return True
    enabled = db.session.scalar(select(MailPreference.enabled).where(MailPreference.user_id == user_id,
                                                                     MailPreference.category == category))
    return BY_NAME[category].default if enabled is None else enabled


def choose(user_id: int, category: str, enabled: bool, now: datetime, source: str) -> bool:
    """Turn an optional category on or off; True when that changed anything. Raises KeyError for a
    category that is not optional."""
    if category not in OPTIONAL:
        raise KeyError(category)
    if wants(user_id, category) == enabled:
        return False
    if not insert_once(MailPreference.__table__, user_id=user_id, category=category, enabled=enabled,
                       changed_at=now, source=source):
        row = db.session.get(MailPreference, (user_id, category), populate_existing=True)
        row.enabled, row.changed_at, row.source = enabled, now, source
    db.session.flush()
    return True


def export_rows(user_id: int) -> list[dict]:
    """Every category with its state, for the person's data export."""
    stored = {row.category: row for row in db.session.scalars(
        select(MailPreference).where(MailPreference.user_id == user_id))}
    rows = []
    for category in CATEGORIES:
        row = stored.get(category.name)
        rows.append({"category": category.name, "optional": category.optional,
                     "enabled": row.enabled if row else (category.default if category.optional else True),
                     "changed_at": row.changed_at.isoformat() if row else None,
                     "changed_by": row.source if row else None})
    return rows


# --- one-click unsubscribe tokens (RFC 8058) ---------------------------------------------------

_SALT = "mail-unsubscribe"


def address_tag(secret_key: str, address: str) -> str:
    """A short keyed digest of a recipient address: the token names the address without carrying it."""
    key = hashlib.sha256(f"{_SALT}:{secret_key}".encode()).digest()
    return hmac.new(key, address.strip().lower().encode(), hashlib.sha256).hexdigest()[:16]


def unsubscribe_token(secret_key: str, user_id: int, category: str, address: str) -> str:
    """A signed token naming the account, the category and the address a mail went to."""
    return URLSafeSerializer(secret_key, salt=_SALT).dumps([user_id, category, address_tag(secret_key, address)])


@dataclass(frozen=True)
class Unsubscribe:
    user_id: int
    category: str
    tag: str

    def is_for(self, secret_key: str, address: str) -> bool:
        return hmac.compare_digest(self.tag, address_tag(secret_key, address))


def read_unsubscribe_token(secret_key: str, token: str) -> Unsubscribe | None:
    """The account, category and address tag a token names; None unless it is one of ours,
    untouched, and names an optional category."""
    if not token or len(token) > 200:
        return None
    try:
        value = URLSafeSerializer(secret_key, salt=_SALT).loads(token)
    except (BadData, UnicodeDecodeError, ValueError):
        return None
    if (not isinstance(value, list) or len(value) != 3 or not isinstance(value[0], int) or isinstance(value[0], bool)
            or value[1] not in OPTIONAL or not isinstance(value[2], str)):
        return None
    return Unsubscribe(value[0], value[1], value[2])
