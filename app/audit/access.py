"""Access transparency: every staff access to a customer's personal data, recorded where the
customer can read it (their privacy page), with the staff member's role, never their name, and
why. An access tied to none of the customer's support conversations, rights requests or orders
is flagged for an admin or privacy officer to review. Customers may ask for an e-mail each time.
No request, no commit (flush only).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, select

from app.audit import services
from app.audit.models import AccessCategory, AuditAction, StaffAccess
from app.auth.models import STAFF_ROLES, User
from app.billing.models import Order
from app.contact.models import ContactThread
from app.email import external_url, queue_email
from app.extensions import db
from app.rights.models import RightsRequest

# Why staff may open a customer's data; the first three tie an access to what the customer asked.
CATEGORIES = (AccessCategory.SUPPORT, AccessCategory.RIGHTS, AccessCategory.BILLING, AccessCategory.FRAUD,
              AccessCategory.LEGAL)  # the reasons staff may give (AUDIT is recorded, never chosen)
ROLE_FOR = {AccessCategory.SUPPORT: "support", AccessCategory.RIGHTS: "privacy", AccessCategory.BILLING: "billing",
            AccessCategory.FRAUD: "admin", AccessCategory.LEGAL: "privacy", AccessCategory.AUDIT: "privacy"}
SAME_ACCESS_MINUTES = 60  # re-reading the same thing within this time is the same access


def acting_role(actor: User, category: AccessCategory) -> str:
    """The role the staff member acts in: the one the category belongs to when they hold it."""
    preferred = ROLE_FOR.get(category)
    if actor.has_role(preferred):
        return preferred
    return next((role for role in STAFF_ROLES if actor.has_role(role)), "staff")


def links_to(user: User, reference: str | None) -> bool:
    """Whether ``reference`` names one of the customer's conversations, rights requests or orders."""
    if not reference:
        return False
    email = user.email
    return any(db.session.scalar(statement) for statement in (
        select(ContactThread.id).where(ContactThread.reference == reference,
                                       or_(ContactThread.user_id == user.id, ContactThread.email == email)),
        select(RightsRequest.id).where(RightsRequest.reference == reference,
                                       or_(RightsRequest.user_id == user.id, RightsRequest.email == email)),
        select(Order.id).where(Order.reference == reference, Order.placed_by_id == user.id),
    ))


def record(actor: User, user: User | None, category: AccessCategory, now: datetime, config,
           reference: str | None = None, reason: str | None = None) -> StaffAccess | None:
    """Record an access to ``user``'s data (None when the data is no account's); the same access
    again within an hour is not recorded twice. E-mails the customer when they asked for it."""
    if user is None or user.erased_at is not None:
        return None
    reference = (reference or "").strip()[:40] or None
    same = db.session.scalar(select(StaffAccess).where(
        StaffAccess.user_id == user.id, StaffAccess.actor_id == actor.id, StaffAccess.category == category,
        StaffAccess.reference.is_(None) if reference is None else StaffAccess.reference == reference,
        StaffAccess.created_at > now - timedelta(minutes=SAME_ACCESS_MINUTES)))
    if same is not None and (reason is None or same.reason == reason):
        return same
    access = StaffAccess(user_id=user.id, actor_id=actor.id, role=acting_role(actor, category), category=category,
                         reference=reference, reason=(reason or "").strip()[:300] or None, created_at=now,
                         flagged=not links_to(user, reference))
    db.session.add(access)
    db.session.flush()
    # Sent only to those who asked for it: the "staff_access" mail category is off by default.
    queue_email(user.email, "staff_access", user.locale or config["BABEL_DEFAULT_LOCALE"], user_id=user.id,
                access=access, privacy_url=external_url("rights.show_privacy"))
    return access


def accesses_of(user: User, limit: int = 200) -> list[StaffAccess]:
    return list(db.session.scalars(select(StaffAccess).where(StaffAccess.user_id == user.id)
                                   .order_by(StaffAccess.created_at.desc(), StaffAccess.id.desc()).limit(limit)))


def waiting_review(limit: int = 50) -> list[StaffAccess]:
    """Flagged accesses not yet reviewed, oldest first."""
    return list(db.session.scalars(select(StaffAccess).where(StaffAccess.flagged.is_(True),
                                                             StaffAccess.reviewed_at.is_(None))
                                   .order_by(StaffAccess.created_at, StaffAccess.id).limit(limit)))


def mark_reviewed(access_id: int, reviewer: User, note: str, now: datetime, ip: str | None = None) -> bool:
    """An admin or privacy officer reviewed a flagged access (audited, with their note); False
    when there is no such access waiting."""
    access = db.session.get(StaffAccess, access_id)
    if access is None or not access.flagged or access.reviewed_at is not None:
        return False
    access.reviewed_at, access.reviewed_by_id = now, reviewer.id
    customer = db.session.get(User, access.user_id)
    services.record(reviewer, AuditAction.PRIVACY_ACCESS_REVIEW, now, target_user=customer,
                    reason=f"#{access.id} {access.category}: {note}"[:300], ip=ip)
    db.session.flush()
    return True
