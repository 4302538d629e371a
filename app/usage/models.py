"""The raw API call log and its daily roll-ups."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, Index, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.retention import PERSONAL, Rule, ip_truncation_rule, register
from app.timeutil import utcnow
from app.usage.partitions import drop_expired


class ApiCall(db.Model):
    """One call to /api/v1, kept CALL_LOG_DAYS days.

    On PostgreSQL the table is partitioned by month of ``created_at`` (``app/usage/partitions.py``):
    its primary key there is (id, created_at) and a unique constraint must hold the partition key,
    hence (request_id, created_at): a record written twice carries its own time, so it is still
    refused.
    """

    __tablename__ = "api_calls"
    __table_args__ = (
        Index("ix_api_calls_organisation_id_created_at", "organisation_id", "created_at"),
        UniqueConstraint("request_id", "created_at", name="uq_api_calls_request_id_created_at"),
        # The calls whose IP is still whole, in time order: the daily truncation walks only these.
        Index("ix_api_calls_ip_whole", "created_at", sqlite_where=db.column("ip_truncated") == false(),
              postgresql_where=db.column("ip_truncated") == false()),
        # The explorer's key filter (and ON DELETE SET NULL when a key is deleted), and its
        # "failures only", which would otherwise read a thousand calls for each one it shows.
        Index("ix_api_calls_key_id_created_at", "key_id", "created_at"),
        Index("ix_api_calls_failed", "organisation_id", "created_at", sqlite_where=db.column("status") >= 500,
              postgresql_where=db.column("status") >= 500),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[str] = mapped_column(db.String(32))
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    method: Mapped[str] = mapped_column(db.String(8))
    endpoint: Mapped[str] = mapped_column(db.String(100))  # the route pattern, e.g. /api/v1/users/{username}
    status: Mapped[int]
    credits: Mapped[int] = mapped_column(default=0)
    latency_ms: Mapped[int] = mapped_column(default=0)
    ip: Mapped[str | None] = mapped_column(db.String(45), info=PERSONAL)
    ip_truncated: Mapped[bool] = mapped_column(default=False)


class UsageDaily(db.Model):
    """Calls, credits and errors per day, organisation, key and endpoint, updated with every call."""

    __tablename__ = "usage_daily"
    __table_args__ = (UniqueConstraint("day", "organisation_id", "key_id", "endpoint"),
                      Index("ix_usage_daily_organisation_id_day", "organisation_id", "day"))

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date]
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id", ondelete="SET NULL"))
    endpoint: Mapped[str] = mapped_column(db.String(100))
    calls: Mapped[int] = mapped_column(default=0)
    credits: Mapped[int] = mapped_column(default=0)
    errors: Mapped[int] = mapped_column(default=0)


register(Rule(
    name="api_calls.expired",
    model=ApiCall,
    action="delete",
    days_setting="CALL_LOG_DAYS",
    default_days=90,
    description="Raw API calls are deleted after N days; daily roll-ups without IPs remain.",
    selects=lambda cutoff: ApiCall.created_at < cutoff,
    keyset=ApiCall.created_at,
    prepare=lambda cutoff: drop_expired(db.engine, cutoff),  # PostgreSQL: whole months at once
))
register(ip_truncation_rule(
    "api_calls.ip", ApiCall, "CALL_IP_DAYS", "The IP address of an API call is cut to its network after N days.",
    keyset=ApiCall.created_at,
))
