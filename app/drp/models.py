"""Authorized agents registered by staff, the bearer tokens they paired for, and the requests
they filed (each backed by one of our rights requests, or answered at once)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.retention import PERSONAL, Rule, register
from app.rights.models import RightsRequest
from app.states import Transitions
from app.timeutil import utcnow


class DrpStatus(StrEnum):
    """An exercise request's status in the Data Rights Protocol (section 3.03)."""

    IN_PROGRESS = "in_progress"
    FULFILLED = "fulfilled"
    DENIED = "denied"
    REVOKED = "revoked"
    EXPIRED = "expired"


FINAL = (DrpStatus.FULFILLED, DrpStatus.REVOKED, DrpStatus.DENIED, DrpStatus.EXPIRED)
# The status stored on an agent's request: none while the rights request behind it answers (or
# until it is answered at once); a stored status is final.
DRP_TRANSITIONS = Transitions("data rights request", {
    None: {DrpStatus.FULFILLED, DrpStatus.DENIED, DrpStatus.REVOKED},
})


class Agent(db.Model):
    __tablename__ = "drp_agents"

    id: Mapped[int] = mapped_column(primary_key=True)
    agent_id: Mapped[str] = mapped_column(db.String(64), unique=True)  # the directory's id
    name: Mapped[str] = mapped_column(db.String(200))
    verify_key: Mapped[str] = mapped_column(db.String(64))  # base64 of the Ed25519 public key
    web_url: Mapped[str] = mapped_column(db.String(300))  # status callbacks and redirects stay on its host
    technical_contact: Mapped[str | None] = mapped_column(db.String(254), info=PERSONAL)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]


class AgentToken(db.Model):
    """A bearer token from pairing; only its hash is kept, with the hash of the signed pairing
    message it was given for (a pairing message works once)."""

    __tablename__ = "drp_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    agent_pk: Mapped[int] = mapped_column(ForeignKey("drp_agents.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(db.String(64), unique=True)
    message_hash: Mapped[str | None] = mapped_column(db.String(64), unique=True)  # None: paired before it was kept
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    agent: Mapped[Agent] = relationship()


class AgentRequest(db.Model):
    """One exercise request of an agent. Its status is read from the rights request behind it;
    ``status``/``reason`` hold it when there is none (answered at once) or it was revoked."""

    __tablename__ = "drp_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[str] = mapped_column(db.String(36), unique=True)
    agent_pk: Mapped[int] = mapped_column(ForeignKey("drp_agents.id", ondelete="CASCADE"), index=True)
    agent_request_id: Mapped[str | None] = mapped_column(db.String(200))
    rights_request_id: Mapped[int | None] = mapped_column(ForeignKey("rights_requests.id", ondelete="SET NULL"),
                                                          index=True)
    exercise: Mapped[str] = mapped_column(db.String(40))
    regime: Mapped[str | None] = mapped_column(db.String(20))
    status_callback: Mapped[str | None] = mapped_column(db.String(500))
    message_hash: Mapped[str] = mapped_column(db.String(64), unique=True)  # a signed message works once
    received_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    status: Mapped[str | None] = mapped_column(db.String(20))
    reason: Mapped[str | None] = mapped_column(db.String(40))
    processing_details: Mapped[str | None] = mapped_column(db.String(500))
    # The status callback: what was last delivered, and when to try again after a failure.
    callback_sent: Mapped[str | None] = mapped_column(db.String(80))
    callback_attempts: Mapped[int] = mapped_column(default=0)
    callback_next_at: Mapped[datetime | None]

    agent: Mapped[Agent] = relationship()
    rights_request: Mapped[RightsRequest | None] = relationship()


register(Rule(
    name="drp_agents.kept",
    model=Agent,
    action="keep",
    days_setting="RIGHTS_REQUEST_RETENTION_DAYS",
    default_days=3 * 365,
    description="Registered agents (with their technical contact) are kept while they may file requests.",
    legal_basis="legitimate interest (GDPR Art. 6(1)(f)): answering requests agents file for people",
))
register(Rule(
    name="drp_requests.expired",
    model=AgentRequest,
    action="delete",
    days_setting="RIGHTS_REQUEST_RETENTION_DAYS",
    default_days=3 * 365,
    description="An agent's request record is deleted N days after it was received, like the rights requests.",
    selects=lambda cutoff: AgentRequest.received_at < cutoff,
))
