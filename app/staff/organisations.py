"""The staff console's organisation work: finding an organisation, its audited record (shown to its
owners and admins as an access to their data), suspension and credit adjustments. No request;
flush only."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select

from app.audit import access
from app.audit import services as audit
from app.audit.models import AccessCategory, AuditAction, AuditEntry
from app.auth.models import User
from app.billing.models import CreditKind, Order
from app.billing.services import add_credits
from app.email import queue_email
from app.extensions import db
from app.keys.models import ApiKey
from app.organisations import events, members
from app.organisations.models import Membership, Organisation, Role, TeamAction


def find(query: str) -> list[Organisation]:
    """Organisations by a member's e-mail (or part of it), their name (or part), a key prefix or an
    order reference."""
    query = (query or "").strip()
    if not query:
        return []
    lowered, ids = query.lower(), set()
    ids |= set(db.session.scalars(select(Membership.organisation_id).join(User, User.id == Membership.user_id)
                                  .where(User.email.contains(lowered)).limit(50)))
    ids |= set(db.session.scalars(select(Organisation.id).where(func.lower(Organisation.name).contains(lowered))
                                  .limit(50)))
    ids |= set(db.session.scalars(select(Order.organisation_id).where(Order.reference == query.upper())))
    if query.startswith("twt_"):
        ids |= set(db.session.scalars(select(ApiKey.organisation_id).where(ApiKey.prefix == query[:12])))
    ids.discard(None)
    if not ids:
        return []
    return list(db.session.scalars(select(Organisation).where(Organisation.id.in_(ids))
                                   .order_by(Organisation.personal, Organisation.name, Organisation.id)))


def _label(organisation: Organisation) -> str:
    return f"organisation {organisation.id} ({organisation.name or 'personal'})"


def _watchers(organisation: Organisation) -> list[User]:
    """Who is shown a staff access to the organisation's data: its owners and admins."""
    return [m.user for m in members.members(organisation.id) if m.role in (Role.OWNER, Role.ADMIN)]


def open_record(actor: User, organisation: Organisation, category: AccessCategory, reference: str | None,
                reason: str, config, now: datetime, ip: str | None = None) -> AuditEntry:
    """Opening an organisation's record: an audit row about each owner and admin (whose data it
    shows: their names and addresses, their organisation's keys and orders), and an access each of
    them sees on their privacy page."""
    for person in _watchers(organisation):
        access.record(actor, person, category, now, config, reference=reference, reason=reason)
    shown = (f"{reference}: {reason}" if reference else reason)[:300]
    return record_view(actor, organisation, shown, now, ip)


def record_view(actor: User, organisation: Organisation, reason: str, now: datetime,
                ip: str | None = None) -> AuditEntry:
    """A display of the record: one audit row per owner and admin (the organisation alone if none)."""
    entry = None
    for person in _watchers(organisation) or [None]:
        entry = audit.record(actor, AuditAction.STAFF_ORGANISATION_VIEW, now, target_user=person,
                             target=_label(organisation), reason=reason, ip=ip)
    return entry


def record_search(actor: User, query: str, found: list[Organisation], config, now: datetime,
                  ip: str | None = None) -> None:
    """The organisation search listed these organisations: a read of their owners' and admins' data."""
    if not query:
        return
    for organisation in found[:10]:
        for person in _watchers(organisation):
            access.record(actor, person, AccessCategory.SUPPORT, now, config)
            audit.record(actor, AuditAction.STAFF_ORGANISATIONS_SEARCH, now, target_user=person,
                         target=_label(organisation), ip=ip)


def _tell_owners(organisation: Organisation, what: str, config) -> None:
    for person in members.members(organisation.id):
        if person.role in (Role.OWNER, Role.BILLING) or (what != "org_credits" and person.role == Role.ADMIN):
            user = person.user
            if user.erased_at is None and user.closed_at is None:
                queue_email(user.email, "account_changed_by_staff", user.locale or config["BABEL_DEFAULT_LOCALE"],
                            what=what, organisation=organisation.display_name,
                            support_email=config["SUPPORT_EMAIL"])


def set_suspended(actor: User, organisation: Organisation, suspended: bool, reason: str, config, now: datetime,
                  ip: str | None = None) -> None:
    """Suspend (every key of the organisation stops on its next call) or lift the suspension."""
    organisation.suspended_at = now if suspended else None
    action = AuditAction.STAFF_ORGANISATION_SUSPEND if suspended else AuditAction.STAFF_ORGANISATION_UNSUSPEND
    audit.record(actor, action, now, target=_label(organisation), reason=reason, ip=ip)
    events.record(organisation.id, actor, TeamAction.SUSPENDED if suspended else TeamAction.UNSUSPENDED, now,
                  target=reason[:300], by="staff")
    _tell_owners(organisation, "org_suspended" if suspended else "org_unsuspended", config)
    db.session.flush()


def adjust_credits(actor: User, organisation: Organisation, amount: int, reason: str, config, now: datetime,
                   ip: str | None = None) -> None:
    """Add (or remove) the organisation's credits with a ledger row, an audit row and a team log
    entry, and tell its owners and billing members. Raises InsufficientCredits below zero."""
    add_credits(organisation, amount, CreditKind.ADJUSTMENT, now, reason=reason, actor=actor)
    audit.record(actor, AuditAction.BILLING_CREDITS_ADJUST, now, target=_label(organisation),
                 reason=f"{amount:+d}: {reason}", ip=ip)
    events.record(organisation.id, actor, TeamAction.CREDITS_ADJUSTED, now, target=f"{amount:+d}: {reason}"[:300],
                  by="staff")
    _tell_owners(organisation, "org_credits", config)


