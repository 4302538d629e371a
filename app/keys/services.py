"""API key services: create, authenticate, rotate, revoke. No request, no commit."""

from __future__ import annotations

import ipaddress
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select, update

from app.auth.models import User
from app.database import lock_row
from app.email import external_url, queue_email
from app.extensions import db
from app.keys.models import KEY_PREFIX, KEY_TRANSITIONS, ApiKey, KeyState
from app.organisations import events
from app.organisations import services as organisations
from app.organisations.models import Membership, Organisation, TeamAction
from app.security import hash_token
from app.timeutil import utcnow

VISIBLE_PREFIX_LENGTH = 12  # "twt_" and 8 random characters, shown in lists
MAX_GRACE_DAYS = 7


class KeyLimitReached(Exception):
    """The organisation already has the maximum number of active keys."""


class KeyNotFound(Exception):
    """No usable key of this organisation has that id."""


def new_secret() -> str:
    """``twt_`` and 32 random bytes, URL-safe (43 characters)."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def active_keys(organisation: Organisation, now: datetime) -> list[ApiKey]:
    return [k for k in all_keys(organisation) if k.usable(now)]


def all_keys(organisation: Organisation) -> list[ApiKey]:
    return list(db.session.scalars(select(ApiKey).where(ApiKey.organisation_id == organisation.id)
                                   .order_by(ApiKey.id.desc())))


def makers(organisation: Organisation) -> dict[int, str]:
    """The names the key list shows for who made a key: the organisation's members, by user id.
    A key whose maker left the organisation or was erased is not found here (a former member's)."""
    rows = db.session.execute(select(User.id, User.nickname, User.email).join(Membership, Membership.user_id == User.id)
                              .where(Membership.organisation_id == organisation.id, User.erased_at.is_(None)))
    return {user_id: nickname or email for user_id, nickname, email in rows}


MAX_NETWORKS = 50


class InvalidNetwork(ValueError):
    """An allowlist entry that is not an IPv4/IPv6 address or CIDR range, or too many entries."""


def parse_networks(text: str | None) -> list[str]:
    """The allowlist typed by the customer (one entry per line or comma-separated) as normalised
    networks ("192.0.2.7/32", "2001:db8::/32"); empty text gives an empty list."""
    entries = [e.strip() for e in (text or "").replace(",", "\n").splitlines() if e.strip()]
    if len(entries) > MAX_NETWORKS:
        raise InvalidNetwork(f"at most {MAX_NETWORKS} entries")
    networks = []
    for entry in entries:
        try:
            networks.append(str(ipaddress.ip_network(entry, strict=False)))
        except ValueError as exc:
            raise InvalidNetwork(entry) from exc
    return list(dict.fromkeys(networks))


def set_controls(key: ApiKey, scopes: list[str] | None, networks: list[str], valid_until: datetime | None,
                 caps: tuple[int | None, int | None] = (None, None)) -> None:
    """The key's scopes (None: every endpoint), allowlist (empty: anywhere), expiry (None: never)
    and credit caps per UTC day and calendar month (None: none); a new expiry gets its own
    reminder, a new cap its own 80 % alert."""
    key.scopes = ",".join(scopes) if scopes is not None else None
    key.allowed_ips = ",".join(networks) or None
    daily, monthly = (c or None for c in caps)
    if (daily, monthly) != (key.daily_cap, key.monthly_cap):
        key.daily_cap, key.monthly_cap, key.cap_alert_day, key.cap_alert_month = daily, monthly, None, None
    if valid_until != key.valid_until:
        key.valid_until, key.expiry_notice_at = valid_until, None


def update_key(organisation: Organisation, key_id: int, name: str, scopes: list[str] | None, networks: list[str],
               valid_until: datetime | None, caps: tuple[int | None, int | None] = (None, None),
               actor: User | None = None, now: datetime | None = None) -> ApiKey:
    """Rename a key or change its controls (``actor`` changed them: the team log says so); the
    secret stays the same. Effective on its next call."""
    key = get_own_key(organisation, key_id)
    if key.revoked_at is not None:
        raise KeyNotFound()
    key.name = name.strip()[:60]
    set_controls(key, scopes, networks, valid_until, caps)
    db.session.flush()
    if actor is not None:
        events.record(organisation.id, actor, TeamAction.KEY_UPDATE, now or utcnow(), target=_named(key))
    return key


def _named(key: ApiKey) -> str:
    """How the team log names a key: its name and prefix."""
    return f"{key.name} ({key.prefix}…)"


def create_key(organisation: Organisation, creator: User, name: str, rate_limit: int | None, max_keys: int, config,
               now: datetime, scopes: list[str] | None = None, networks: list[str] | None = None,
               valid_until: datetime | None = None,
               caps: tuple[int | None, int | None] = (None, None)) -> tuple[ApiKey, str]:
    """Issue a key of ``organisation`` made by ``creator`` with its controls; return it with its
    secret (shown once, never stored). The creator is told by e-mail.

    Concurrent creations for one organisation are serialised on its row, so the limit holds.
    """
    lock_row(Organisation.__table__, organisation.id)
    if len(active_keys(organisation, now)) >= max_keys:
        raise KeyLimitReached()
    secret = new_secret()
    key = ApiKey(organisation_id=organisation.id, created_by_id=creator.id, name=name.strip()[:60],
                 prefix=secret[:VISIBLE_PREFIX_LENGTH], secret_hash=hash_token(secret), created_at=now,
                 rate_limit_per_minute=rate_limit)
    set_controls(key, scopes, networks or [], valid_until, caps)
    db.session.add(key)
    db.session.flush()
    events.record(organisation.id, creator, TeamAction.KEY_CREATE, now, subject=creator, target=_named(key))
    queue_email(creator.email, "api_key_created", creator.locale or config["BABEL_DEFAULT_LOCALE"], name=key.name,
                prefix=key.prefix, keys_url=external_url("keys.list_keys", org=organisation.id))
    return key, secret


def get_own_key(organisation: Organisation, key_id: int) -> ApiKey:
    key = db.session.scalar(select(ApiKey).where(ApiKey.id == key_id, ApiKey.organisation_id == organisation.id))
    if key is None:
        raise KeyNotFound()
    return key


def revoke_key(organisation: Organisation, key_id: int, now: datetime, actor: User | None = None,
               by: str = "member") -> ApiKey:
    """Revoke one of the organisation's keys; effective on its next request. ``actor`` (a member,
    or our staff when ``by`` says so) is named in the team log."""
    key = get_own_key(organisation, key_id)
    if key.revoked_at is None:
        KEY_TRANSITIONS.check(key.status(now), KeyState.REVOKED)
        key.revoked_at = now
        events.record(organisation.id, actor, TeamAction.KEY_REVOKE, now, target=_named(key), by=by)
    db.session.flush()
    return key


class KeyAlreadyRotated(Exception):
    """The key was replaced already; it works only until its grace period ends."""


def rotate_key(organisation: Organisation, rotator: User, key_id: int, grace_days: int, max_keys: int, config,
               now: datetime) -> tuple[ApiKey, str]:
    """Replace a key: the new one works at once with the old one's controls; the old one keeps
    working for ``grace_days``. A key is replaced once (KeyAlreadyRotated). A grace period keeps
    one more key working for its days, so it counts against ``max_keys`` like a new key
    (KeyLimitReached); without one the new key takes the old one's place.

    Concurrent rotations and creations for one organisation are serialised on its row, so both
    rules hold however the requests interleave. The new key is the rotator's (who is told by e-mail).
    """
    lock_row(Organisation.__table__, organisation.id)
    old = get_own_key(organisation, key_id)
    if old.status(now) == KeyState.ROTATING:
        raise KeyAlreadyRotated()
    if not old.usable(now):
        raise KeyNotFound()
    grace_days = max(0, min(grace_days, MAX_GRACE_DAYS))
    if grace_days and len(active_keys(organisation, now)) >= max_keys:
        raise KeyLimitReached()
    KEY_TRANSITIONS.check(old.status(now), KeyState.ROTATING if grace_days else KeyState.REVOKED)
    old.expires_at = now + timedelta(days=grace_days)
    if grace_days == 0:
        old.revoked_at = now
    db.session.flush()
    secret = new_secret()
    new = ApiKey(organisation_id=organisation.id, created_by_id=rotator.id, name=old.name,
                 prefix=secret[:VISIBLE_PREFIX_LENGTH], secret_hash=hash_token(secret), created_at=now,
                 rate_limit_per_minute=old.rate_limit_per_minute, scopes=old.scopes,
                 allowed_ips=old.allowed_ips, valid_until=old.valid_until, daily_cap=old.daily_cap,
                 monthly_cap=old.monthly_cap)  # the same controls (a cap counts the new key's own spending)
    db.session.add(new)
    db.session.flush()
    events.record(organisation.id, rotator, TeamAction.KEY_ROTATE, now, subject=rotator,
                  target=f"{_named(old)} → {new.prefix}…")
    queue_email(rotator.email, "api_key_created", rotator.locale or config["BABEL_DEFAULT_LOCALE"], name=new.name,
                prefix=new.prefix, keys_url=external_url("keys.list_keys", org=organisation.id))
    return new, secret


REMIND_DAYS = 7


def remind_expiring(config, now: datetime) -> int:
    """Queue one e-mail for each key whose chosen expiry is within 7 days, once per expiry: the
    reminder is claimed by a conditional update, so two runs at once send it once. Flush only."""
    due = db.session.execute(select(ApiKey.id).where(
        ApiKey.revoked_at.is_(None), ApiKey.expiry_notice_at.is_(None), ApiKey.valid_until.is_not(None),
        ApiKey.valid_until > now, ApiKey.valid_until <= now + timedelta(days=REMIND_DAYS))).all()
    sent = 0
    for (key_id,) in due:
        claimed = db.session.execute(update(ApiKey).where(ApiKey.id == key_id, ApiKey.expiry_notice_at.is_(None))
                                     .values(expiry_notice_at=now))
        if claimed.rowcount != 1:
            continue
        key = db.session.get(ApiKey, key_id)
        for user in organisations.key_contacts(key.organisation_id, key.created_by_id):
            queue_email(user.email, "api_key_expiring", user.locale or config["BABEL_DEFAULT_LOCALE"], user_id=user.id,
                        name=key.name, prefix=key.prefix, expires_on=key.valid_until.date().isoformat(),
                        keys_url=external_url("keys.list_keys", org=key.organisation_id))
        sent += 1
    return sent


def made_by(organisation: Organisation, user_id: int) -> list[ApiKey]:
    """The organisation's keys that ``user_id`` made, newest first."""
    return [k for k in all_keys(organisation) if k.created_by_id == user_id]


def revoke_made_by(organisation: Organisation, user_id: int, keep: set[int], now: datetime,
                   actor: User | None = None) -> int:
    """Revoke the keys ``user_id`` made in the organisation but those in ``keep`` (which keep
    working for it, shown with their maker, revocable later); how many were revoked."""
    revoked = 0
    for key in made_by(organisation, user_id):
        if key.id not in keep and key.revoked_at is None:
            key.revoked_at = now
            events.record(organisation.id, actor, TeamAction.KEY_REVOKE, now, target=_named(key))
            revoked += 1
    db.session.flush()
    return revoked
