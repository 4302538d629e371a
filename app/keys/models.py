"""API keys. The secret is shown once; only its SHA-256 and a short prefix are kept."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.timeutil import utcnow

KEY_PREFIX = "twt_"  # every secret starts with it (the gateway looks up nothing else)


class ApiKey(db.Model):
    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(db.String(60))
    prefix: Mapped[str] = mapped_column(db.String(16))
    secret_hash: Mapped[str] = mapped_column(db.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    # Set when the key was rotated: it keeps working until then.
    expires_at: Mapped[datetime | None]
    rate_limit_per_minute: Mapped[int | None]  # below the account's limit, or None for the account's

    def status(self, now: datetime) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        if self.expires_at is not None:
            return "rotating"
        return "active"

    def usable(self, now: datetime) -> bool:
        return self.status(now) in ("active", "rotating")
