"""Support threads and their messages. Bodies are encrypted at rest."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, and_, select
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.crypto import EncryptedText
from app.extensions import db
from app.retention import PERSONAL, Rule, ip_truncation_rule, register
from app.states import Transitions
from app.timeutil import utcnow


class ContactTopic(StrEnum):
    """What a message to support is about (chosen on the contact form)."""

    SALES = "sales"
    BILLING = "billing"
    TECHNICAL = "technical"
    PRIVACY = "privacy"
    COMPLAINT = "complaint"
    OTHER = "other"


class ThreadStatus(StrEnum):
    NEW = "new"  # until staff pick it up
    OPEN = "open"
    WAITING = "waiting"  # answered: waiting for the customer
    CLOSED = "closed"


class MessageKind(StrEnum):
    CUSTOMER = "customer"
    STAFF = "staff"
    NOTE = "note"  # internal, never shown to the customer


STATUSES = tuple(ThreadStatus)
TOPICS = tuple(ContactTopic)
# A closed thread is reopened by staff or by the customer's next message (or answered again).
THREAD_TRANSITIONS = Transitions("support thread", {
    ThreadStatus.NEW: {ThreadStatus.OPEN, ThreadStatus.WAITING, ThreadStatus.CLOSED},
    ThreadStatus.OPEN: {ThreadStatus.WAITING, ThreadStatus.CLOSED},
    ThreadStatus.WAITING: {ThreadStatus.OPEN, ThreadStatus.CLOSED},
    ThreadStatus.CLOSED: {ThreadStatus.OPEN, ThreadStatus.WAITING},
})


class ContactThread(db.Model):
    __tablename__ = "contact_threads"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(db.String(12), unique=True)  # SUP-4F7K2Q
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    name: Mapped[str] = mapped_column(db.String(100), info=PERSONAL)
    email: Mapped[str] = mapped_column(db.String(254), index=True, info=PERSONAL)
    topic: Mapped[str] = mapped_column(db.String(20))  # a ContactTopic
    status: Mapped[str] = mapped_column(db.String(20), default=ThreadStatus.NEW, index=True)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    locale: Mapped[str] = mapped_column(db.String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None]
    ip: Mapped[str | None] = mapped_column(db.String(45), info=PERSONAL)
    ip_truncated: Mapped[bool] = mapped_column(default=False)

    messages: Mapped[list[ContactMessage]] = relationship(
        back_populates="thread", cascade="all, delete-orphan", passive_deletes=True,
        order_by="ContactMessage.id")


class ContactMessage(db.Model):
    __tablename__ = "contact_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    thread_id: Mapped[int] = mapped_column(ForeignKey("contact_threads.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(db.String(10))  # customer | staff | note (internal, never shown to them)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    body: Mapped[str] = mapped_column(EncryptedText, info=PERSONAL)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    thread: Mapped[ContactThread] = relationship(back_populates="messages")


register(Rule(
    name="contact_messages.closed",
    model=ContactMessage,
    action="delete",
    days_setting="CONTACT_RETENTION_DAYS",
    default_days=365,
    description="Messages go with their thread, N days after it was closed.",
    selects=lambda cutoff: ContactMessage.thread_id.in_(select(ContactThread.id).where(
        ContactThread.status == ThreadStatus.CLOSED, ContactThread.closed_at < cutoff)),
))
register(Rule(
    name="contact_threads.closed",
    model=ContactThread,
    action="delete",
    days_setting="CONTACT_RETENTION_DAYS",
    default_days=365,
    description="Closed support threads (and their messages) are deleted N days after closing.",
    selects=lambda cutoff: and_(ContactThread.status == ThreadStatus.CLOSED, ContactThread.closed_at < cutoff),
))
register(ip_truncation_rule(
    "contact_threads.ip", ContactThread, "CONTACT_IP_DAYS",
    "The sender's IP address is cut to its network after N days.",
))
