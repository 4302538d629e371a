"""The reads metering needs from the database: a usable key for a secret, a stored balance."""

from __future__ import annotations

import ipaddress

from sqlalchemy import select

from app.auth.models import User
from app.extensions import db
from app.keys.models import KEY_PREFIX, ApiKey
from app.metering.types import KeyInfo
from app.security import hash_token


def looks_like_key(secret: str) -> bool:
    """Whether ``secret`` could be one of our keys at all (no lookup for anything else)."""
    return secret.startswith(KEY_PREFIX) and len(secret) <= 100


def find_key(secret: str) -> ApiKey | None:
    """The key for ``secret`` if it is not revoked and its owner may use it; it may have expired
    (the gateway says so, see ``KeyInfo.usable``)."""
    if not looks_like_key(secret):
        return None
    return find_key_by_hash(hash_token(secret))


def find_key_by_hash(secret_hash: str) -> ApiKey | None:
    """The unrevoked key with this secret hash whose owner may use it (not suspended, not flagged)."""
    row = db.session.execute(select(ApiKey, User.suspended_at, User.minor_flagged_at)
                             .join(User, User.id == ApiKey.user_id).where(ApiKey.secret_hash == secret_hash)).first()
    if row is None or row[1] is not None or row[2] is not None:  # unknown, or the owner suspended or a minor
        return None
    return row[0] if row[0].revoked_at is None else None


def key_info(key: ApiKey, epoch: str = "", secret_hash: str = "") -> KeyInfo:
    """What the gateway keeps of ``key``: its limits and controls, parsed once per load."""
    networks = tuple(ipaddress.ip_network(n) for n in key.network_list)
    single = {n for n in networks if n.num_addresses == 1}
    return KeyInfo(key.id, key.user_id, key.rate_limit_per_minute, key.stops_at(), epoch, secret_hash,
                   last_used_at=key.last_used_at, scopes=frozenset(key.scope_list) if key.scopes else None,
                   networks=networks, hosts=frozenset((n.version, int(n.network_address)) for n in single),
                   ranges=tuple((n.version, int(n.network_address), int(n.netmask)) for n in networks
                                if n not in single))


def stored_balance(executor, user_id: int) -> int:
    """The balance in the database, read on ``executor`` (the session, or a connection outside it)."""
    return executor.scalar(select(User.credit_balance).where(User.id == user_id)) or 0
