"""The reads metering needs from the database: a usable key for a secret, a stored balance."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from app.auth.models import User
from app.extensions import db
from app.keys.models import KEY_PREFIX, ApiKey
from app.security import hash_token


def looks_like_key(secret: str) -> bool:
    """Whether ``secret`` could be one of our keys at all (no lookup for anything else)."""
    return secret.startswith(KEY_PREFIX) and len(secret) <= 100


def find_usable_key(secret: str, now: datetime) -> ApiKey | None:
    """The active (or rotating, within its grace period) key for ``secret``, or None."""
    if not looks_like_key(secret):
        return None
    return find_usable_key_by_hash(hash_token(secret), now)


def find_usable_key_by_hash(secret_hash: str, now: datetime) -> ApiKey | None:
    """The usable key with this secret hash whose owner may use it (not suspended, not flagged)."""
    row = db.session.execute(select(ApiKey, User.suspended_at, User.minor_flagged_at)
                             .join(User, User.id == ApiKey.user_id).where(ApiKey.secret_hash == secret_hash)).first()
    if row is None or row[1] is not None or row[2] is not None:  # unknown, or the owner suspended or a minor
        return None
    return row[0] if row[0].usable(now) else None


def stored_balance(executor, user_id: int) -> int:
    """The balance in the database, read on ``executor`` (the session, or a connection outside it)."""
    return executor.scalar(select(User.credit_balance).where(User.id == user_id)) or 0
