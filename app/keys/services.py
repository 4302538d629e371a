"""API key services: create, authenticate, rotate, revoke. No request, no commit."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import select

from app.auth.models import User
from app.database import lock_row
from app.email import external_url, queue_email
from app.extensions import db
from app.keys.models import KEY_PREFIX, ApiKey
from app.security import hash_token

VISIBLE_PREFIX_LENGTH = 12  # "twt_" and 8 random characters, shown in lists
MAX_GRACE_DAYS = 7


class KeyLimitReached(Exception):
    """The account already has the maximum number of active keys."""


class KeyNotFound(Exception):
    """No usable key of this user has that id."""


def new_secret() -> str:
    """``twt_`` and 32 random bytes, URL-safe (43 characters)."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def active_keys(user: User, now: datetime) -> list[ApiKey]:
    return [k for k in all_keys(user) if k.usable(now)]


def all_keys(user: User) -> list[ApiKey]:
    return list(db.session.scalars(select(ApiKey).where(ApiKey.user_id == user.id).order_by(ApiKey.id.desc())))


def create_key(user: User, name: str, rate_limit: int | None, max_keys: int, config,
               now: datetime) -> tuple[ApiKey, str]:
    """Issue a key for ``user``; return it with its secret (shown once, never stored).

    Concurrent creations for one account are serialised on its row, so the limit holds.
    """
    lock_row(User.__table__, user.id)
    if len(active_keys(user, now)) >= max_keys:
        raise KeyLimitReached()
    secret = new_secret()
    key = ApiKey(user_id=user.id, name=name.strip()[:60], prefix=secret[:VISIBLE_PREFIX_LENGTH],
                 secret_hash=hash_token(secret), created_at=now, rate_limit_per_minute=rate_limit)
    db.session.add(key)
    db.session.flush()
    queue_email(user.email, "api_key_created", user.locale or config["BABEL_DEFAULT_LOCALE"], name=key.name,
                prefix=key.prefix, keys_url=external_url("keys.list_keys"))
    return key, secret


def get_own_key(user: User, key_id: int) -> ApiKey:
    key = db.session.scalar(select(ApiKey).where(ApiKey.id == key_id, ApiKey.user_id == user.id))
    if key is None:
        raise KeyNotFound()
    return key


def revoke_key(user: User, key_id: int, now: datetime) -> ApiKey:
    """Revoke one of the user's keys; effective on its next request."""
    key = get_own_key(user, key_id)
    if key.revoked_at is None:
        key.revoked_at = now
    db.session.flush()
    return key


def rotate_key(user: User, key_id: int, grace_days: int, config, now: datetime) -> tuple[ApiKey, str]:
    """Replace a key: the new one works at once; the old one keeps working for ``grace_days``."""
    old = get_own_key(user, key_id)
    if not old.usable(now):
        raise KeyNotFound()
    grace_days = max(0, min(grace_days, MAX_GRACE_DAYS))
    old.expires_at = now + timedelta(days=grace_days)
    if grace_days == 0:
        old.revoked_at = now
    db.session.flush()
    secret = new_secret()
    new = ApiKey(user_id=user.id, name=old.name, prefix=secret[:VISIBLE_PREFIX_LENGTH], secret_hash=hash_token(secret),
                 created_at=now, rate_limit_per_minute=old.rate_limit_per_minute)
    db.session.add(new)
    db.session.flush()
    queue_email(user.email, "api_key_created", user.locale or config["BABEL_DEFAULT_LOCALE"], name=new.name,
                prefix=new.prefix, keys_url=external_url("keys.list_keys"))
    return new, secret
