"""Counting attempts in the shared rate-limit storage (Redis when ``REDIS_URL`` is set).

Used where Flask-Limiter's per-route decorators do not fit: counting only failures, or keys
that are not the client's address (an account, an e-mail address).
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass

from flask import current_app
from limits import parse

from app.extensions import limiter


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after: int  # seconds until the oldest counted attempt leaves the window


def throttle_key(*parts: str) -> str:
    """A storage key that does not reveal the e-mail address or IP it is about, under the site's
    RATELIMIT_KEY_PREFIX (two sites sharing a Redis never count each other's attempts)."""
    digest = hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]
    return f"{current_app.config['RATELIMIT_KEY_PREFIX']}:throttle:{parts[0]}:{digest}"


def check(limit: str, key: str) -> Verdict:
    """Whether another attempt is allowed now, without counting one."""
    item = parse(limit)
    if limiter.limiter.test(item, key):
        return Verdict(True, 0)
    stats = limiter.limiter.get_window_stats(item, key)
    return Verdict(False, max(1, math.ceil(stats.reset_time - time.time())))


def hit(limit: str, key: str) -> Verdict:
    """Count one attempt; the verdict says whether it was within the limit."""
    item = parse(limit)
    if limiter.limiter.hit(item, key):
        return Verdict(True, 0)
    return check(limit, key)


def clear(limit: str, key: str) -> None:
    limiter.limiter.clear(parse(limit), key)
