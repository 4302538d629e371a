"""The breach register's rules (GDPR Art. 33-34), as plain functions with an explicit clock:
recording a suspected breach, its stages, the people affected counted from the database, the
72 hours from awareness, the authority notification that needs the Art. 33(3) contents (and a
reason for the delay after 72 hours), and the draft notice to the people affected in their
language. Every change is audited. No request, no commit (flush only).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import distinct, func, select

from app.audit import services as audit
from app.audit.models import AuditAction
from app.auth.models import User, UserSession
from app.billing.models import Order
from app.breaches.models import BREACH_TRANSITIONS, Breach, BreachStage
from app.contact.models import ContactThread
from app.email import render_email
from app.extensions import db
from app.keys.models import ApiKey
from app.organisations.models import Membership

STAGES = tuple(BreachStage)
NOTIFY_WITHIN = timedelta(hours=72)
EDITABLE = ("title", "nature", "data_categories", "scope", "people_affected", "records_affected", "contact",
            "consequences", "measures")
# Art. 33(3)(a)-(d): what the notification to the authority must contain.
REQUIRED_FOR_AUTHORITY = ("nature", "data_categories", "people_affected", "contact", "consequences", "measures")


class Refused(Exception):
    """The change is not allowed; ``missing`` names what it needs."""

    def __init__(self, missing: list[str]):
        super().__init__(", ".join(missing))
        self.missing = missing


@dataclass(frozen=True)
class Clock:
    """Where a breach stands against the 72 hours of Art. 33(1)."""

    deadline: datetime
    hours_left: float  # negative once passed
    overdue: bool


def clock(breach: Breach, now: datetime) -> Clock:
    deadline = breach.aware_at + NOTIFY_WITHIN
    left = (deadline - now).total_seconds() / 3600
    return Clock(deadline, left, left < 0 and breach.authority_notified_at is None)


def record(title: str, aware_at: datetime, nature: str | None, actor: User, now: datetime,
           ip: str | None = None) -> Breach:
    """Open a suspected breach; the clock starts at ``aware_at`` (not in the future)."""
    breach = Breach(reference="BR-pending", title=title.strip()[:200], aware_at=min(aware_at, now),
                    nature=(nature or "").strip() or None, recorded_at=now, recorded_by_id=actor.id,
                    stage=BreachStage.SUSPECTED)
    db.session.add(breach)
    db.session.flush()
    breach.reference = f"BR-{now.year}-{breach.id:04d}"
    audit.record(actor, AuditAction.PRIVACY_BREACH_RECORD, now, target=breach.reference, reason=breach.title, ip=ip)
    db.session.flush()
    return breach


def update(breach: Breach, values: dict, actor: User, now: datetime, ip: str | None = None) -> list[str]:
    """Change the register's fields; returns the names changed (audited)."""
    changed = []
    for name in EDITABLE:
        if name in values and getattr(breach, name) != values[name]:
            setattr(breach, name, values[name])
            changed.append(name)
    if changed:
        audit.record(actor, AuditAction.PRIVACY_BREACH_UPDATE, now, target=breach.reference,
                     reason=", ".join(changed), ip=ip)
    db.session.flush()
    return changed


def details_from(values: dict, breach: Breach) -> dict:
    """The register's fields from a form's values; a scope counts the people affected from the
    database (replacing a number typed by hand)."""
    found = {name: values.get(name) or None for name in EDITABLE}
    found["title"] = values.get("title") or breach.title
    for number in ("people_affected", "records_affected"):
        found[number] = values.get(number)
    if found["scope"]:
        found["people_affected"] = count_affected(found["scope"], breach)
    return found


def set_stage(breach: Breach, stage: str, actor: User, now: datetime, ip: str | None = None) -> None:
    """Move the breach to ``stage``: Refused for an unknown stage, StageRefused for a move
    BREACH_TRANSITIONS does not allow."""
    if stage not in STAGES:
        raise Refused(["stage"])
    breach.stage = BREACH_TRANSITIONS.check(breach.stage, BreachStage(stage))
    breach.closed_at = now if stage == BreachStage.CLOSED else None
    audit.record(actor, AuditAction.PRIVACY_BREACH_STAGE, now, target=breach.reference, reason=stage, ip=ip)
    db.session.flush()


def missing_for_authority(breach: Breach) -> list[str]:
    return [name for name in REQUIRED_FOR_AUTHORITY if getattr(breach, name) in (None, "")]


def notify_authority(breach: Breach, sent_at: datetime, authority_reference: str | None, delay_reason: str | None,
                     actor: User, now: datetime, ip: str | None = None) -> None:
    """Mark the authority notification sent. Refused without the Art. 33(3) contents, for a time
    in the future or before awareness, and after 72 hours without the reasons for the delay."""
    missing = missing_for_authority(breach)
    if sent_at > now or sent_at < breach.aware_at:
        missing.append("sent_at")
    delay_reason = (delay_reason or "").strip() or None
    if sent_at > breach.aware_at + NOTIFY_WITHIN and not delay_reason:
        missing.append("delay_reason")
    if missing:
        raise Refused(missing)
    breach.authority_notified_at, breach.delay_reason = sent_at, delay_reason
    breach.authority_reference = (authority_reference or "").strip()[:100] or None
    audit.record(actor, AuditAction.PRIVACY_BREACH_NOTIFY, now, target=breach.reference,
                 reason=f"authority notified {sent_at:%Y-%m-%d %H:%M} UTC" + (" (late)" if delay_reason else ""), ip=ip)
    db.session.flush()


# --- the people affected, counted from the database ---------------------------------------------------

SCOPES = ("all_accounts", "accounts_with_keys", "paying_customers", "signed_in_since_aware", "support_senders")


def count_affected(scope: str, breach: Breach) -> int:
    """How many people a scope reaches now (accounts not erased; support senders by address)."""
    live = User.erased_at.is_(None)
    statements = {
        "all_accounts": select(func.count()).select_from(User).where(live),
        # The members of organisations with a working key, or with a paid order.
        "accounts_with_keys": select(func.count(distinct(Membership.user_id))).join(User, User.id == Membership.user_id)
        .where(live, Membership.organisation_id.in_(select(ApiKey.organisation_id).where(ApiKey.revoked_at.is_(None)))),
        "paying_customers": select(func.count(distinct(Membership.user_id))).join(User, User.id == Membership.user_id)
        .where(live, Membership.organisation_id.in_(select(Order.organisation_id).where(Order.paid_at.is_not(None)))),
        "signed_in_since_aware": select(func.count(distinct(UserSession.user_id)))
        .where(UserSession.created_at >= breach.aware_at - NOTIFY_WITHIN),
        "support_senders": select(func.count(distinct(ContactThread.email))),
    }
    if scope not in statements:
        raise Refused(["scope"])
    return db.session.scalar(statements[scope]) or 0


def draft_notice(breach: Breach, locale: str) -> tuple[str, str]:
    """The notice to the people affected (Art. 34(2)) in ``locale``: subject and text, to review
    before it is sent."""
    subject, text, _html = render_email("breach_notice", locale, breach=breach)
    return subject, text


def register_entries(limit: int = 200) -> list[Breach]:
    return list(db.session.scalars(select(Breach).order_by(Breach.aware_at.desc()).limit(limit)))


def find(reference: str) -> Breach | None:
    return db.session.scalar(select(Breach).where(Breach.reference == reference[:20]))


def open_count() -> int:
    """Breaches not closed whose authority notification is still to be decided."""
    return db.session.scalar(select(func.count()).select_from(Breach).where(
        Breach.stage != BreachStage.CLOSED, Breach.authority_notified_at.is_(None))) or 0
