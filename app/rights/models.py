"""Rights requests, their history, and legal holds."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, and_
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.crypto import EncryptedText
from app.extensions import db
from app.retention import PERSONAL, Rule, register
from app.states import IllegalTransition, Transitions
from app.timeutil import utcnow


class RequestStatus(StrEnum):
    UNCONFIRMED = "unconfirmed"
    RECEIVED = "received"
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    EXTENDED = "extended"
    ON_HOLD = "on_hold"
    COMPLETED = "completed"
    REJECTED = "rejected"
    EXPIRED = "expired"
    REVOKED = "revoked"


class RequestType(StrEnum):
    """What a rights request asks for (``RightsRequest.type``)."""

    ACCESS = "access"
    RECTIFICATION = "rectification"
    ERASURE = "erasure"
    RESTRICTION = "restriction"
    OBJECTION = "objection"
    WITHDRAW_CONSENT = "withdraw_consent"
    OTHER = "other"


STATUSES = tuple(RequestStatus)
OPEN_STATUSES = (RequestStatus.RECEIVED, RequestStatus.OPEN, RequestStatus.IN_PROGRESS, RequestStatus.EXTENDED,
                 RequestStatus.ON_HOLD)
CLOSED_STATUSES = (RequestStatus.COMPLETED, RequestStatus.REJECTED, RequestStatus.EXPIRED)


class TransitionRefused(IllegalTransition):
    """The change is not allowed in the request's current state; the message says why."""


_CLOSING = {RequestStatus.COMPLETED, RequestStatus.REJECTED, RequestStatus.REVOKED}
REQUEST_TRANSITIONS = Transitions("rights request", {
    RequestStatus.UNCONFIRMED: {RequestStatus.RECEIVED, RequestStatus.REVOKED, RequestStatus.EXPIRED},
    RequestStatus.RECEIVED: {RequestStatus.OPEN, RequestStatus.IN_PROGRESS, RequestStatus.EXTENDED,
                             RequestStatus.ON_HOLD, *_CLOSING},
    RequestStatus.OPEN: {RequestStatus.IN_PROGRESS, RequestStatus.EXTENDED, RequestStatus.ON_HOLD, *_CLOSING},
    RequestStatus.IN_PROGRESS: {RequestStatus.EXTENDED, RequestStatus.ON_HOLD, *_CLOSING},
    RequestStatus.EXTENDED: {RequestStatus.IN_PROGRESS, RequestStatus.ON_HOLD, *_CLOSING},
    # A hold stops the work: released (open again), extended, or closed without acting on it.
    RequestStatus.ON_HOLD: {RequestStatus.OPEN, RequestStatus.EXTENDED, RequestStatus.REJECTED,
                            RequestStatus.REVOKED},
}, error=TransitionRefused)


class RightsRequest(db.Model):
    __tablename__ = "rights_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(db.String(12), unique=True)  # PRV-7KQ29X
    type: Mapped[str] = mapped_column(db.String(20))  # a RequestType
    email: Mapped[str] = mapped_column(db.String(254), index=True, info=PERSONAL)
    details: Mapped[str] = mapped_column(EncryptedText, info=PERSONAL)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    locale: Mapped[str] = mapped_column(db.String(16))
    status: Mapped[str] = mapped_column(db.String(20), default=RequestStatus.UNCONFIRMED, index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    confirmed_at: Mapped[datetime | None]
    due_on: Mapped[date | None] = mapped_column(index=True)
    extended: Mapped[bool] = mapped_column(default=False)
    minor: Mapped[bool] = mapped_column(default=False)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    closed_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(EncryptedText)  # what was done, or the reason for a rejection
    code_hash: Mapped[str | None] = mapped_column(db.String(64))
    code_expires_at: Mapped[datetime | None]
    code_attempts: Mapped[int] = mapped_column(default=0)

    events: Mapped[list[RequestEvent]] = relationship(cascade="all, delete-orphan", passive_deletes=True,
                                                      order_by="RequestEvent.id")


class RequestEvent(db.Model):
    """A status change or note on a request, shown to the requester (notes excepted)."""

    __tablename__ = "rights_request_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("rights_requests.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    from_status: Mapped[str | None] = mapped_column(db.String(20))
    to_status: Mapped[str | None] = mapped_column(db.String(20))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    note: Mapped[str | None] = mapped_column(EncryptedText, info=PERSONAL)
    internal: Mapped[bool] = mapped_column(default=False)


class LegalHold(db.Model):
    """While active, the account is neither erased nor purged."""

    __tablename__ = "legal_holds"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    reason: Mapped[str] = mapped_column(db.String(300))
    placed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    placed_at: Mapped[datetime] = mapped_column(default=utcnow)
    ends_on: Mapped[date]
    released_at: Mapped[datetime | None]


class JobRun(db.Model):
    """The last day a once-a-day job ran (the rights digest)."""

    __tablename__ = "job_runs"

    name: Mapped[str] = mapped_column(db.String(40), primary_key=True)
    last_day: Mapped[date]


register(Rule(
    name="rights_request_events.closed",
    model=RequestEvent,
    action="delete",
    days_setting="RIGHTS_REQUEST_RETENTION_DAYS",
    default_days=3 * 365,
    description="The history of a rights request goes with the request.",
    selects=lambda cutoff: RequestEvent.request_id.in_(db.select(RightsRequest.id).where(
        RightsRequest.closed_at < cutoff)),
))
register(Rule(
    name="rights_requests.closed",
    model=RightsRequest,
    action="delete",
    days_setting="RIGHTS_REQUEST_RETENTION_DAYS",
    default_days=3 * 365,
    description="Answered rights requests are kept N days (3 years) to show how they were handled.",
    selects=lambda cutoff: RightsRequest.closed_at < cutoff,
))
register(Rule(
    name="rights_requests.unconfirmed",
    model=RightsRequest,
    action="delete",
    days_setting="UNCONFIRMED_REQUEST_DAYS",
    default_days=30,
    description="Requests whose address was never confirmed are deleted after N days.",
    selects=lambda cutoff: and_(RightsRequest.status == RequestStatus.UNCONFIRMED, RightsRequest.created_at < cutoff),
))
