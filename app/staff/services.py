"""Staff console services: finding customers, account actions, the team, the audit log.

No request; flush only. Every change writes an audit row here, so no view can forget it.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import date, datetime, timedelta

from sqlalchemy import func, select, update

from app.audit import access, chain
from app.audit import services as audit
from app.audit.models import AccessCategory, AuditAction, AuditChainAnchor, AuditEntry
from app.auth.models import STAFF_ROLES, SessionEndReason, TokenPurpose, User, UserRole, UserSession
from app.auth.provisioning import create_staff
from app.auth.services import end_sessions, issue_token, send_verification
from app.billing import disputes, invoices
from app.billing.models import CreditKind, Invoice, Order, WebhookEvent
from app.billing.services import add_credits
from app.breaches import services as breaches
from app.contact.models import ContactThread, ThreadStatus
from app.csvstream import csv_lines
from app.email import OutboxMessage, external_url, queue_email
from app.extensions import db
from app.keys.models import ApiKey
from app.keys.services import revoke_key as revoke
from app.organisations import services as organisations
from app.rights import workflow as rights
from app.rights.models import OPEN_STATUSES, RightsRequest


class LastAdmin(ValueError):
    """The change would leave no admin."""


def find_customers(query: str) -> list[User]:
    """Search by e-mail (or part of it), order / support / request reference, or API key prefix."""
    query = (query or "").strip()
    if not query:
        return []
    upper = query.upper()
    ids: set[int] = set()
    ids |= set(db.session.scalars(select(User.id).where(User.email.contains(query.lower())).limit(50)))
    ids |= set(db.session.scalars(select(Order.placed_by_id).where(Order.reference == upper)))
    ids |= set(db.session.scalars(select(ContactThread.user_id).where(ContactThread.reference == upper)))
    ids |= set(db.session.scalars(select(RightsRequest.user_id).where(RightsRequest.reference == upper)))
    if query.startswith("twt_"):
        ids |= set(db.session.scalars(select(ApiKey.created_by_id).where(ApiKey.prefix == query[:12])))
    ids.discard(None)
    return list(db.session.scalars(select(User).where(User.id.in_(ids)).order_by(User.email))) if ids else []


def notify(user: User, what: str, config) -> None:
    queue_email(user.email, "account_changed_by_staff", user.locale or config["BABEL_DEFAULT_LOCALE"], what=what,
                support_email=config["SUPPORT_EMAIL"])


def suspend(user: User, staff, reason: str, config, now: datetime, ip=None) -> None:
    user.suspended_at = now
    end_sessions(user, SessionEndReason.SUSPENDED, now)
    audit.record(staff, AuditAction.STAFF_USER_SUSPEND, now, target_user=user, reason=reason, ip=ip)
    notify(user, "suspended", config)
    db.session.flush()


def unsuspend(user: User, staff, reason: str, config, now: datetime, ip=None) -> None:
    user.suspended_at = None
    audit.record(staff, AuditAction.STAFF_USER_UNSUSPEND, now, target_user=user, reason=reason, ip=ip)
    notify(user, "unsuspended", config)
    db.session.flush()


def end_all_sessions(user: User, staff, reason: str, config, now: datetime, ip=None) -> int:
    count = end_sessions(user, SessionEndReason.ENDED_BY_STAFF, now)
    audit.record(staff, AuditAction.STAFF_USER_END_SESSIONS, now, target_user=user, reason=reason, ip=ip)
    notify(user, "sessions_ended", config)
    return count


def end_every_session(staff, reason: str, now: datetime, keep_id: int | None = None, ip=None) -> int:
    """An emergency (ASVS 5.0 7.4.5): end every sign-in session of every account at once, but the
    acting admin's own; one audit row with the reason and the count. Flush only."""
    sessions = UserSession.__table__
    query = update(sessions).where(sessions.c.ended_at.is_(None))
    if keep_id is not None:
        query = query.where(sessions.c.id != keep_id)
    count = db.session.execute(query.values(ended_at=now, end_reason=SessionEndReason.EMERGENCY)).rowcount
    audit.record(staff, AuditAction.STAFF_SESSIONS_END_ALL, now, target=f"every session ({count})", reason=reason,
                 ip=ip)
    db.session.flush()
    return count


def revoke_key(user: User, key_id: int, staff, reason: str, config, now: datetime, ip=None) -> None:
    key = revoke(organisations.personal_organisation(user.id), key_id, now, staff, by="staff")
    audit.record(staff, AuditAction.STAFF_USER_REVOKE_KEY, now, target_user=user, reason=f"{key.prefix}: {reason}",
                 ip=ip)
    notify(user, "key_revoked", config)


def resend_verification(user: User, staff, reason: str, config, now: datetime, ip=None) -> None:
    send_verification(user, config, now)
    audit.record(staff, AuditAction.STAFF_USER_RESEND_VERIFICATION, now, target_user=user, reason=reason, ip=ip)


# --- the team ---------------------------------------------------------------------------------------


def admins_left(excluding: int | None = None) -> int:
    statement = select(func.count()).select_from(UserRole).where(UserRole.role == "admin")
    if excluding is not None:
        statement = statement.where(UserRole.user_id != excluding)
    return db.session.scalar(statement) or 0


def invite(email: str, roles: list[str], staff, config, now: datetime, ip=None) -> User:
    """Give roles to an address, creating the account; the invitee sets a password by e-mail link."""

    user, created = create_staff(email, secrets.token_urlsafe(32), roles, config, now)
    secret = issue_token(user, TokenPurpose.RESET_PASSWORD, now)
    queue_email(user.email, "staff_invitation", user.locale or config["BABEL_DEFAULT_LOCALE"],
                roles=", ".join(sorted(user.role_names)), set_password_url=external_url("auth.reset_password",
                                                                                        token=secret))
    audit.record(staff, AuditAction.STAFF_TEAM_INVITE, now, target_user=user, reason=", ".join(sorted(roles)), ip=ip)
    db.session.flush()
    return user


def set_roles(user: User, roles: list[str], staff, now: datetime, ip=None) -> None:
    roles = sorted(set(roles) & set(STAFF_ROLES))
    if "admin" in user.role_names and "admin" not in roles and admins_left(excluding=user.id) == 0:
        raise LastAdmin("This is the last admin: give the admin role to someone else first.")
    for role in list(user.roles):
        if role.role not in roles:
            user.roles.remove(role)
    for name in roles:
        if name not in user.role_names:
            user.roles.append(UserRole(user_id=user.id, role=name, granted_at=now))
    audit.record(staff, AuditAction.STAFF_TEAM_ROLES, now, target_user=user, reason=", ".join(roles) or "none", ip=ip)
    db.session.flush()


def team() -> list[User]:
    return list(db.session.scalars(select(User).join(UserRole).distinct().order_by(User.email)))


# --- the audit log -------------------------------------------------------------------------------------


def audit_query(actor: str | None, customer: str | None, action: str | None, since: date | None,
                until: date | None):
    statement = select(AuditEntry).order_by(AuditEntry.id.desc())
    if actor:
        statement = statement.where(AuditEntry.actor_label == actor.strip().lower())
    if customer:
        # Any case, on both databases (PostgreSQL's LIKE minds case; references are upper case).
        statement = statement.where(func.lower(AuditEntry.target).contains(customer.strip().lower()))
    if action:
        statement = statement.where(AuditEntry.action.startswith(action.strip()))
    if since:
        statement = statement.where(AuditEntry.created_at >= datetime.combine(since, datetime.min.time()))
    if until:
        statement = statement.where(AuditEntry.created_at < datetime.combine(until + timedelta(days=1),
                                                                                datetime.min.time()))
    return statement


def chain_anchor() -> AuditChainAnchor | None:
    """Where the audit chain began (its genesis anchor), shown so staff can keep it off-site."""
    return chain.genesis()


def audit_csv(statement) -> Iterator[str]:
    return csv_lines(["time_utc", "staff", "action", "subject", "reason", "ip"], _audit_rows(statement))


def _audit_rows(statement) -> Iterator[list]:
    last = None
    while True:
        page = statement if last is None else statement.where(AuditEntry.id < last)
        rows = db.session.scalars(page.limit(2000)).all()
        if not rows:
            return
        for e in rows:
            yield [e.created_at.isoformat(timespec="seconds") + "Z", e.actor_label, e.action, e.target or "",
                   e.reason or "", e.ip or ""]
        last = rows[-1].id


# --- what the console's pages list --------------------------------------------------------------


def members_with_roles(*roles: str) -> list[User]:
    """Staff members holding any of ``roles``, by e-mail (for assignment lists)."""
    return list(db.session.scalars(select(User).join(UserRole).where(UserRole.role.in_(roles))
                                   .distinct().order_by(User.email)))


def recent_audit(limit: int = 20) -> list[AuditEntry]:
    return list(db.session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)))


def dashboard_counts(viewer: User, today: date) -> dict:
    """What waits, for the roles ``viewer`` holds: rights requests due, recent orders, open
    disputes and unmatched webhooks, failing mail."""
    counts: dict = {}
    if viewer.has_role("privacy", "admin"):
        counts["requests_week"] = len(rights.queue("week", viewer.id, today))
        counts["requests_overdue"] = len(rights.queue("overdue", viewer.id, today))
    if viewer.has_role("billing", "admin"):
        counts["recent_orders"] = list(db.session.scalars(select(Order).order_by(Order.id.desc()).limit(5)))
        counts["webhooks_unmatched"] = db.session.scalar(select(func.count()).select_from(WebhookEvent).where(
            WebhookEvent.outcome == "unknown order"))
        counts["disputes_open"] = disputes.open_count()
    if viewer.has_role("admin"):
        counts["mail_failing"] = db.session.scalar(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.sent_at.is_(None), OutboxMessage.attempts > 0))
    return counts


def waiting_counts(viewer: User, today: date) -> dict[str, int]:
    """The side navigation's badges: new messages (support) and rights requests open and due within
    7 days or overdue (privacy), for the roles ``viewer`` holds."""
    counts: dict[str, int] = {}
    if viewer.has_role("support", "admin"):
        counts["messages"] = db.session.scalar(select(func.count()).select_from(ContactThread).where(
            ContactThread.status == ThreadStatus.NEW)) or 0
    if viewer.has_role("privacy", "admin"):
        counts["requests"] = db.session.scalar(select(func.count()).select_from(RightsRequest).where(
            RightsRequest.status.in_(OPEN_STATUSES), RightsRequest.due_on <= today + timedelta(days=7))) or 0
        counts["breaches"] = breaches.open_count()
    return counts


# --- audited reads and changes the console's pages make ----------------------------------------


def record_person_lookup(actor: User, now: datetime, ip: str | None = None) -> None:
    """A privacy lookup of everything held about an address (the address itself is not kept)."""
    audit.record(actor, AuditAction.PRIVACY_PERSON_LOOKUP, now, target="address lookup", ip=ip)


def record_orders_export(actor: User, filters: str, now: datetime, ip: str | None = None) -> AuditEntry:
    """An accounting export of orders (it names customers), with the filters it used."""
    return audit.record(actor, AuditAction.BILLING_ORDERS_EXPORT, now, target="orders", reason=filters or None, ip=ip)


# Staff reads that name a customer (by e-mail or reference) are reads of that customer's data:
# each writes, per customer shown, an audit row and the access the customer sees on their privacy page.
MAX_NAMED = 50
# A search's purpose, from the searcher's role (the first they hold, in this order).
SEARCH_CATEGORY = {"billing": AccessCategory.BILLING, "support": AccessCategory.SUPPORT,
                   "privacy": AccessCategory.RIGHTS, "admin": AccessCategory.FRAUD}


def record_reads(actor: User, users, category: AccessCategory, action: str, config, now: datetime, *,
                 target: str | None = None, reference: str | None = None, reason: str | None = None,
                 ip: str | None = None) -> None:
    """A staff read that showed these customers' data (at most MAX_NAMED of them, each once)."""
    seen: set[int] = set()
    for user in users:
        if user is None or user.id in seen:
            continue
        seen.add(user.id)
        if len(seen) > MAX_NAMED:
            return
        access.record(actor, user, category, now, config, reference=reference, reason=reason)
        audit.record(actor, action, now, target_user=user, target=target, reason=reason, ip=ip)


def record_document_read(actor: User, document: Invoice, action: str, config, now: datetime,
                         ip: str | None = None) -> None:
    """An invoice or credit note opened or downloaded: it carries the buyer's name, address and tax id."""
    order = invoices.order_of(document)
    buyer = db.session.get(User, order.placed_by_id) if order.placed_by_id else None
    if buyer is None:
        audit.record(actor, action, now, target=document.number, ip=ip)
        return
    record_reads(actor, [buyer], AccessCategory.BILLING, action, config, now, target=document.number,
                 reference=order.reference, ip=ip)


def record_order_search(actor: User, query: str, action: str, config, now: datetime, ip: str | None = None) -> None:
    """The orders list (or its export) filtered by a buyer's e-mail or an order reference."""
    query = (query or "").strip()
    if not query:
        return
    by_reference = db.session.scalar(select(Order).where(Order.reference == query.upper()))
    buyers = list(db.session.scalars(select(User).where(User.email == query.lower())))
    if by_reference is not None and by_reference.placed_by_id:
        buyers.append(db.session.get(User, by_reference.placed_by_id))
    record_reads(actor, buyers, AccessCategory.BILLING, action, config, now, target=query[:254],
                 reference=by_reference.reference if by_reference is not None else None, ip=ip)


def record_customer_search(actor: User, query: str, found: list[User], config, now: datetime,
                           ip: str | None = None) -> None:
    """The customer search listed these customers."""
    category = next((c for role, c in SEARCH_CATEGORY.items() if actor.has_role(role)), AccessCategory.SUPPORT)
    reference = None if "@" in query else query.strip().upper()[:40] or None
    record_reads(actor, found, category, AuditAction.STAFF_USERS_SEARCH, config, now, reference=reference, ip=ip)


def record_inbox_search(actor: User, threads: list[ContactThread], config, now: datetime,
                        ip: str | None = None) -> None:
    """The support inbox searched by an e-mail or a reference: each account's threads it listed."""
    for thread in threads[:MAX_NAMED]:
        owner = db.session.get(User, thread.user_id) if thread.user_id else None
        record_reads(actor, [owner], AccessCategory.SUPPORT, AuditAction.CONTACT_THREADS_SEARCH, config, now,
                     target=thread.reference,
                     reference=thread.reference, ip=ip)


def record_audit_read(actor: User, statement, export: bool, filters: str, customer: str | None, config,
                      now: datetime, ip: str | None = None) -> None:
    """The audit log read by customer (page or CSV), or exported: the export's own row, and for a
    customer filter a read of each customer whose entries it shows."""
    if export:
        audit.record(actor, AuditAction.PRIVACY_AUDIT_EXPORT, now, target="audit log",
                     reason=filters[:300] or None, ip=ip)
    if not customer:
        return
    shown = statement.with_only_columns(AuditEntry.target_user_id).where(AuditEntry.target_user_id.is_not(None))
    ids = list(db.session.scalars(shown.order_by(None).distinct().limit(MAX_NAMED)))
    users = list(db.session.scalars(select(User).where(User.id.in_(ids)))) if ids else []
    record_reads(actor, users, AccessCategory.AUDIT, AuditAction.PRIVACY_AUDIT_READ, config, now,
                 target=customer.strip()[:254], ip=ip)


def open_user_record(actor: User, user: User, category: AccessCategory, reference: str | None, reason: str, config,
                     now: datetime, ip: str | None = None) -> AuditEntry:
    """Opening a customer's record: the audit row, and the access the customer sees (flagged
    when ``reference`` names none of their conversations, requests or orders)."""
    access.record(actor, user, category, now, config, reference=reference, reason=reason)
    shown = (f"{reference}: {reason}" if reference else reason)[:300]
    return audit.record(actor, AuditAction.STAFF_USER_VIEW, now, target_user=user, reason=shown, ip=ip)


def record_user_view(actor: User, user: User, reason: str, now: datetime, ip: str | None = None) -> AuditEntry:
    """A display of a customer's record, with the reason given when it was opened."""
    return audit.record(actor, AuditAction.STAFF_USER_VIEW, now, target_user=user, reason=reason, ip=ip)


def record_order_view(actor: User, order: Order, config, now: datetime, ip: str | None = None) -> None:
    buyer = db.session.get(User, order.placed_by_id) if order.placed_by_id else None
    access.record(actor, buyer, AccessCategory.BILLING, now, config, reference=order.reference)
    audit.record(actor, AuditAction.BILLING_ORDER_VIEW, now, target_user=buyer, target=order.reference, ip=ip)


def adjust_credits(user: User, amount: int, reason: str, actor: User, config, now: datetime,
                   ip: str | None = None) -> None:
    """Add (or remove) credits of the customer's personal organisation with a ledger row and an
    audit row, and tell the customer. Raises InsufficientCredits rather than take the balance below zero."""
    own = organisations.personal_organisation(user.id)
    add_credits(own, amount, CreditKind.ADJUSTMENT, now, reason=reason, actor=actor)
    audit.record(actor, AuditAction.BILLING_CREDITS_ADJUST, now, target_user=user, reason=f"{amount:+d}: {reason}",
                 ip=ip)
    notify(user, "credits", config)

