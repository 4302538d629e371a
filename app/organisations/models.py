"""Organisations and their memberships, the roles members hold and what each role may do."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from flask_babel import lazy_gettext as _l
from sqlalchemy import ForeignKey, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.retention import PERSONAL, Rule, register
from app.timeutil import utcnow


class Role(StrEnum):
    """A member's role in an organisation (``Membership.role``)."""

    OWNER = "owner"
    ADMIN = "admin"
    DEVELOPER = "developer"
    BILLING = "billing"
    VIEWER = "viewer"


class Permission(StrEnum):
    """What a member may do in the organisation; every customer page names the one it needs."""

    VIEW = "view"  # the dashboard, keys, usage, orders and the team, read-only
    MANAGE_KEYS = "manage_keys"  # create, change, rotate and revoke API keys
    MANAGE_BILLING = "manage_billing"  # buy credits, billing details, spend limit, alerts
    MANAGE_MEMBERS = "manage_members"  # invite, remove, change roles
    MANAGE_ORGANISATION = "manage_organisation"  # rename, close, hand over ownership


# The one permission table: a page or action checks ``may(role, permission)``, never a role name.
PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.OWNER: frozenset(Permission),
    Role.ADMIN: frozenset({Permission.VIEW, Permission.MANAGE_KEYS, Permission.MANAGE_BILLING,
                           Permission.MANAGE_MEMBERS}),
    Role.DEVELOPER: frozenset({Permission.VIEW, Permission.MANAGE_KEYS}),
    Role.BILLING: frozenset({Permission.VIEW, Permission.MANAGE_BILLING}),
    Role.VIEWER: frozenset({Permission.VIEW}),
}


def may(role: str | None, permission: Permission) -> bool:
    """Whether a member holding ``role`` may do ``permission`` (an unknown role may do nothing)."""
    try:
        return permission in PERMISSIONS[Role(role)]
    except ValueError:
        return False


class Organisation(db.Model):
    """A team (or one person's personal organisation): it owns the credits and the keys.

    Ids come from their own sequence (``sqlite_autoincrement``: never reused on SQLite either), so
    an organisation's id is no user's id by design; the migration that created the table gave each
    existing account's personal organisation its user's id, so the tables that moved to it kept
    their values.
    """

    __tablename__ = "organisations"
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(primary_key=True)
    # None for a personal organisation: it is shown as "Personal" and copies no one's name.
    name: Mapped[str | None] = mapped_column(db.String(80), info=PERSONAL)
    personal: Mapped[bool] = mapped_column(default=False, server_default="0")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Credits: the balance always equals the sum of the organisation's credit ledger (flask credits verify).
    credit_balance: Mapped[int] = mapped_column(default=0, server_default="0")
    # The lowest low-credit threshold already announced by e-mail (reset when credits are added).
    low_credit_notified: Mapped[int | None]
    low_credit_notified_at: Mapped[datetime | None]  # the last low-credit mail (at most one per window)
    # The low-balance thresholds ("25%,10%,5%", "500,100": a share of the last 30 days' use or
    # credits; None: LOW_CREDIT_THRESHOLDS), and the balances they come to now, highest first
    # (computed on saving, on a top-up and daily by `flask credits refresh-alerts`).
    alert_thresholds: Mapped[str | None] = mapped_column(db.String(100))
    alert_levels: Mapped[str | None] = mapped_column(db.String(200))
    # An optional cap on the credits all keys together may spend in a calendar month (UTC).
    monthly_spend_limit: Mapped[int | None]
    # Suspended by staff: no API calls until unsuspended. Closed: its keys are revoked.
    suspended_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]

    memberships: Mapped[list[Membership]] = relationship(back_populates="organisation",
                                                         cascade="all, delete-orphan", passive_deletes=True)

    @property
    def display_name(self) -> str:
        """Its name; a personal organisation is "Personal" in the reader's language (an erased team
        organisation, whose name is gone, "Closed organisation")."""
        return self.name or str(_l("Personal") if self.personal else _l("Closed organisation"))


class Membership(db.Model):
    """A person's place in an organisation, with the role that says what they may do there."""

    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("organisation_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(db.String(20))  # a Role
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    organisation: Mapped[Organisation] = relationship(back_populates="memberships")
    user = relationship("User", lazy="joined")

    def may(self, permission: Permission) -> bool:
        return may(self.role, permission)


register(Rule(
    name="organisations.kept",
    model=Organisation,
    action="keep",
    days_setting="ACCOUNT_PURGE_DAYS",
    default_days=30,
    description="An organisation's name is kept while it exists; a closed organisation's is removed with "
                "its last owner's account.",
    legal_basis="contract: the organisation is the customer",
))
register(Rule(
    name="memberships.kept",
    model=Membership,
    action="keep",
    days_setting="ACCOUNT_PURGE_DAYS",
    default_days=30,
    description="A membership is kept while the person belongs to the organisation; it is deleted when they leave, "
                "are removed, or their account is erased.",
    legal_basis="contract: it says what the member may do",
))


class Invitation(db.Model):
    """An invitation to join an organisation, sent by e-mail. The link is signed and carries a
    random secret whose SHA-256 alone is kept; it works once, for INVITATION_DAYS, until revoked,
    and only for an account with the invited address."""

    __tablename__ = "invitations"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(db.String(254), info=PERSONAL)  # normalised, lower-case
    role: Mapped[str] = mapped_column(db.String(20))  # a Role
    token_hash: Mapped[str] = mapped_column(db.String(64), unique=True)
    invited_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    accepted_at: Mapped[datetime | None]
    accepted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    revoked_at: Mapped[datetime | None]

    organisation: Mapped[Organisation] = relationship()
    invited_by = relationship("User", foreign_keys=[invited_by_id])

    def pending(self, now: datetime) -> bool:
        return self.accepted_at is None and self.revoked_at is None and self.expires_at > now


register(Rule(
    name="invitations.finished",
    model=Invitation,
    action="delete",
    days_setting="INVITATION_RETENTION_DAYS",
    default_days=30,
    description="An invitation is deleted N days after it was accepted, revoked or expired (the membership it made "
                "stays).",
    selects=lambda cutoff: (Invitation.expires_at < cutoff) | (Invitation.accepted_at < cutoff)
    | (Invitation.revoked_at < cutoff),
))


class TeamAction(StrEnum):
    """What happened in an organisation (``TeamEvent.action``): ``object:verb``."""

    ORGANISATION_CREATE = "organisation:create"
    ORGANISATION_CLOSE = "organisation:close"
    ORGANISATION_EXPORT = "organisation:export"
    KEY_CREATE = "key:create"
    KEY_UPDATE = "key:update"
    KEY_ROTATE = "key:rotate"
    KEY_REVOKE = "key:revoke"
    MEMBER_INVITE = "member:invite"
    INVITATION_REVOKE = "member:invitation-revoke"
    MEMBER_JOIN = "member:join"
    MEMBER_REMOVE = "member:remove"
    MEMBER_LEAVE = "member:leave"
    MEMBER_ROLE = "member:role"
    BILLING_DETAILS = "billing:details"
    SPEND_LIMIT = "billing:spend-limit"
    ALERTS = "billing:alerts"
    ORDER_CREATE = "billing:order"
    ORDER_PAID = "billing:order-paid"
    ORDER_REFUNDED = "billing:order-refunded"
    CREDITS_ADJUSTED = "billing:credits-adjusted"
    SUSPENDED = "organisation:suspended"
    UNSUSPENDED = "organisation:unsuspended"


class TeamEvent(db.Model):
    """One entry of an organisation's audit log."""

    __tablename__ = "team_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    by: Mapped[str] = mapped_column(db.String(10), default="member")  # member | staff | system
    action: Mapped[str] = mapped_column(db.String(40))  # a TeamAction
    subject_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))  # the member concerned
    # What it was about, in words that need no lookup: "prod (twt_Ab12Cd34…)", "ORD-7KQ2-9XW4",
    # an invited address (personal: deleted with the entry), "developer → viewer".
    target: Mapped[str | None] = mapped_column(db.String(300), info=PERSONAL)

    organisation = relationship("Organisation")
    actor = relationship("User", foreign_keys=[actor_id], lazy="joined")
    subject = relationship("User", foreign_keys=[subject_id], lazy="joined")

    __table_args__ = (db.Index("ix_team_events_organisation_id_created_at", "organisation_id", "created_at"),)


register(Rule(
    name="team_events.expired",
    model=TeamEvent,
    action="delete",
    days_setting="TEAM_LOG_DAYS",
    default_days=730,
    description="An organisation's team audit log entries are deleted after N days (two years).",
    selects=lambda cutoff: TeamEvent.created_at < cutoff,
))
