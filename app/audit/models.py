"""Audit entries. The ORM refuses to update or delete them (see app.audit.services)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.retention import PERSONAL, Rule, register
from app.timeutil import utcnow


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


register(Rule(
    name="audit_log.expired",
    model=AuditEntry,
    action="delete",
    days_setting="AUDIT_RETENTION_DAYS",
    default_days=730,
    description="Audit entries are kept N days (24 months) for security reviews, then deleted.",
    selects=lambda cutoff: AuditEntry.created_at < cutoff,
))
