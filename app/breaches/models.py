"""A personal-data breach, as the register keeps it (GDPR Art. 33(5): the facts, the effects and
the remedial action, whether or not the authority was told)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.retention import Rule, register
from app.states import IllegalTransition, Transitions
from app.timeutil import utcnow


class BreachStage(StrEnum):
    SUSPECTED = "suspected"
    CONFIRMED = "confirmed"
    CONTAINED = "contained"
    CLOSED = "closed"


class StageRefused(IllegalTransition):
    """The breach cannot move from its stage to the one asked for."""


# Forward only (a suspicion may be closed at once as a false alarm); a closed breach is reopened
# as confirmed when more comes to light, never back to a mere suspicion.
BREACH_TRANSITIONS = Transitions("breach", {
    BreachStage.SUSPECTED: {BreachStage.CONFIRMED, BreachStage.CONTAINED, BreachStage.CLOSED},
    BreachStage.CONFIRMED: {BreachStage.CONTAINED, BreachStage.CLOSED},
    BreachStage.CONTAINED: {BreachStage.CLOSED},
    BreachStage.CLOSED: {BreachStage.CONFIRMED},
}, error=StageRefused)


class Breach(db.Model):
    __tablename__ = "breaches"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(db.String(20), unique=True)
    title: Mapped[str] = mapped_column(db.String(200))
    stage: Mapped[str] = mapped_column(db.String(20), default=BreachStage.SUSPECTED)
    # When we became aware of it: the 72 hours of Art. 33(1) run from here.
    aware_at: Mapped[datetime]
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # Art. 33(3): (a) the nature, with the categories and approximate numbers of people and records;
    # (b) the contact point; (c) the likely consequences; (d) the measures taken or proposed.
    nature: Mapped[str | None] = mapped_column(db.Text)
    data_categories: Mapped[str | None] = mapped_column(db.String(500))
    scope: Mapped[str | None] = mapped_column(db.String(40))  # how the people affected were counted
    people_affected: Mapped[int | None]
    records_affected: Mapped[int | None]
    contact: Mapped[str | None] = mapped_column(db.String(300))
    consequences: Mapped[str | None] = mapped_column(db.Text)
    measures: Mapped[str | None] = mapped_column(db.Text)
    authority_notified_at: Mapped[datetime | None]
    authority_reference: Mapped[str | None] = mapped_column(db.String(100))
    delay_reason: Mapped[str | None] = mapped_column(db.Text)  # Art. 33(1): notified after 72 hours
    closed_at: Mapped[datetime | None]


register(Rule(
    name="breaches.kept",
    model=Breach,
    action="keep",
    days_setting="AUDIT_RETENTION_DAYS",
    default_days=730,
    description="The breach register is kept as the documentation GDPR Art. 33(5) asks for; it names staff only "
                "by their account, and affected people only as counts.",
    legal_basis="legal obligation (GDPR Art. 33(5))",
))
