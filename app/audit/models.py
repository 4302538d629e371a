"""Audit entries. The ORM refuses to update or delete them (see app.audit.services)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.retention import PERSONAL, Rule, register
from app.timeutil import utcnow


class AuditAction(StrEnum):
    """What a staff member (or the system) did, as the audit log stores it: ``domain:object:verb``."""

    STAFF_ROLE_GRANT = "staff:role:grant"
    STAFF_TEAM_INVITE = "staff:team:invite"
    STAFF_TEAM_ROLES = "staff:team:roles"
    STAFF_USER_VIEW = "staff:user:view"
    STAFF_USER_SUSPEND = "staff:user:suspend"
    STAFF_USER_UNSUSPEND = "staff:user:unsuspend"
    STAFF_USER_END_SESSIONS = "staff:user:end-sessions"
    STAFF_SESSIONS_END_ALL = "staff:sessions:end-all"
    STAFF_USER_REVOKE_KEY = "staff:user:revoke-key"
    STAFF_USER_RESEND_VERIFICATION = "staff:user:resend-verification"
    STAFF_ORGANISATION_VIEW = "staff:organisation:view"
    STAFF_ORGANISATIONS_SEARCH = "staff:organisations:search"
    STAFF_ORGANISATION_SUSPEND = "staff:organisation:suspend"
    STAFF_ORGANISATION_UNSUSPEND = "staff:organisation:unsuspend"
    PRIVACY_EXPORT = "privacy:export"
    PRIVACY_PERSON_LOOKUP = "privacy:person:lookup"
    PRIVACY_ACCESS_REVIEW = "privacy:access:review"
    PRIVACY_BREACH_RECORD = "privacy:breach:record"
    PRIVACY_BREACH_UPDATE = "privacy:breach:update"
    PRIVACY_BREACH_STAGE = "privacy:breach:stage"
    PRIVACY_BREACH_NOTIFY = "privacy:breach:notify"
    PRIVACY_AGENT_REGISTER = "privacy:agent:register"
    PRIVACY_AGENT_REVOKE = "privacy:agent:revoke"
    BILLING_ORDER_VIEW = "billing:order:view"
    BILLING_ORDER_REFUND = "billing:order:refund"
    BILLING_ORDERS_EXPORT = "billing:orders:export"
    BILLING_ORDERS_SEARCH = "billing:orders:search"
    BILLING_INVOICE_VIEW = "billing:invoice:view"
    BILLING_INVOICE_DOWNLOAD = "billing:invoice:download"
    STAFF_USERS_SEARCH = "staff:users:search"
    CONTACT_THREADS_SEARCH = "contact:threads:search"
    PRIVACY_AUDIT_READ = "privacy:audit:read"
    PRIVACY_AUDIT_EXPORT = "privacy:audit:export"
    BILLING_CREDITS_ADJUST = "billing:credits:adjust"
    RIGHTS_VIEW = "rights:view"
    RIGHTS_ASSIGN = "rights:assign"
    RIGHTS_NOTE = "rights:note"
    RIGHTS_START = "rights:start"
    RIGHTS_EXTEND = "rights:extend"
    RIGHTS_COMPLETE = "rights:complete"
    RIGHTS_REJECT = "rights:reject"
    RIGHTS_HOLD = "rights:hold"
    RIGHTS_RELEASE = "rights:release"
    RIGHTS_MINOR = "rights:minor"
    CONTACT_THREAD_VIEW = "contact:thread:view"
    CONTACT_THREAD_REPLY = "contact:thread:reply"
    CONTACT_THREAD_NOTE = "contact:thread:note"
    CONTACT_THREAD_ASSIGN = "contact:thread:assign"
    CONTACT_THREAD_CLOSE = "contact:thread:close"
    CONTACT_THREAD_REOPEN = "contact:thread:reopen"


class AnchorKind(StrEnum):
    GENESIS = "genesis"  # where the chain began
    RETENTION = "retention"  # where it starts after the retention purge deleted older entries


class AccessCategory(StrEnum):
    """Why staff opened a customer's personal data (``StaffAccess.category``)."""

    SUPPORT = "support"
    RIGHTS = "rights"
    BILLING = "billing"
    FRAUD = "fraud"
    LEGAL = "legal"
    AUDIT = "audit"  # reading the audit log's entries about the customer (not a reason staff give)


class AuditEntry(db.Model):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    # Kept when the actor's account is gone, so the trail stays readable.
    actor_label: Mapped[str] = mapped_column(db.String(254), info=PERSONAL)
    action: Mapped[str] = mapped_column(db.String(60), index=True)
    target_user_id: Mapped[int | None] = mapped_column(index=True)
    target: Mapped[str | None] = mapped_column(db.String(254), info=PERSONAL)
    reason: Mapped[str | None] = mapped_column(db.String(500))
    ip: Mapped[str | None] = mapped_column(db.String(45), info=PERSONAL)
    # The chain (ASVS 5.0 16.4.2): row_hash seals this entry and the previous entry's row_hash,
    # target_seal its target (the one field pseudonymisation may rewrite); both keyed (HMAC), so
    # changing, removing or inserting an entry without the application's key shows in
    # `flask audit verify`. Entries written before the chain existed have none.
    prev_hash: Mapped[str | None] = mapped_column(db.String(64))
    row_hash: Mapped[str | None] = mapped_column(db.String(64))
    target_seal: Mapped[str | None] = mapped_column(db.String(64))


class AuditChainHead(db.Model):
    """The newest entry's row_hash: appends take this row's lock, so the chain has one order."""

    __tablename__ = "audit_chain"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    last_hash: Mapped[str] = mapped_column(db.String(64))


class AuditChainAnchor(db.Model):
    """Where the chain begins, written once and never changed (the ORM refuses, as for entries):
    ``genesis`` names the first sealed entry, whose ``prev_hash`` is the genesis value; each
    ``retention`` anchor, written in the retention purge's transaction, names the entry the chain
    starts at once older ones are gone (or, when none is left, the first id to come). ``seal`` is
    keyed like the entries, so an anchor cannot be forged without the application's key. Every
    entry from the genesis anchor's on must be sealed."""

    __tablename__ = "audit_chain_anchors"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    kind: Mapped[str] = mapped_column(db.String(20))
    entry_id: Mapped[int]
    # What the first entry's prev_hash must be, and its own row_hash (None: no entry was left).
    prev_hash: Mapped[str] = mapped_column(db.String(64))
    entry_hash: Mapped[str | None] = mapped_column(db.String(64))
    seal: Mapped[str] = mapped_column(db.String(64))


class StaffAccess(db.Model):
    """A staff member's access to a customer's personal data, as the customer sees it on their
    privacy page (access transparency): when, the staff member's role (never their name), why
    (a category and the reason), and the ticket, request or order it was for. An access linked to
    none is flagged until an admin or privacy officer has reviewed it."""

    __tablename__ = "staff_accesses"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    role: Mapped[str] = mapped_column(db.String(20))
    category: Mapped[str] = mapped_column(db.String(20))  # an AccessCategory
    reference: Mapped[str | None] = mapped_column(db.String(40))
    reason: Mapped[str | None] = mapped_column(db.String(300))
    flagged: Mapped[bool] = mapped_column(default=False, index=True)
    reviewed_at: Mapped[datetime | None]
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


register(Rule(
    name="staff_accesses.expired",
    model=StaffAccess,
    action="delete",
    days_setting="AUDIT_RETENTION_DAYS",
    default_days=730,
    description="Records of staff access to a customer's data are shown to the customer and kept N days, like the "
                "audit log; they are deleted with the account.",
    selects=lambda cutoff: StaffAccess.created_at < cutoff,
))
