"""Signing in with a password, as one decision the view maps to a response: throttled, wrong,
refused (a minor's account, a suspended one, one closed past its grace period), a second factor
to ask for, or signed in (a closed account within its grace period reopens). No request here."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from app.auth import activity, services
from app.auth.models import User


class Step(enum.Enum):
    THROTTLED = "throttled"
    WRONG = "wrong"
    MINOR = "minor"
    SUSPENDED = "suspended"
    BEING_ERASED = "being_erased"
    SECOND_FACTOR = "second_factor"
    SIGNED_IN = "signed_in"


@dataclass(frozen=True)
class SignIn:
    step: Step
    user: User | None = None
    retry_minutes: int = 0
    reopened: bool = False


def sign_in(email: str, password: str, ip: str | None, client, config, now: datetime) -> SignIn:
    """Check a password sign-in. Leaves the transaction to the unit of work: a failure is
    recorded in it, a refusal changes nothing (a password is re-hashed only for a sign-in that
    goes on), a reopened account reopened in it."""
    verdict = services.login_verdict(email, ip)
    if not verdict.allowed:
        return SignIn(Step.THROTTLED, retry_minutes=max(1, round(verdict.retry_after / 60)))
    user, needs_rehash = services.check_password(email, password)
    if user is None:
        services.record_login_failure(email, ip)
        activity.record_failed_login(email, client, now)
        return SignIn(Step.WRONG)
    refused = refusal(user, config, now)
    if refused is not None:
        return SignIn(refused, user)
    if needs_rehash:  # kept even if the second factor never comes
        services.rehash_password(user, password)
    reopened = user.closed_at is not None
    if user.has_2fa:  # the reopening waits for the second factor
        return SignIn(Step.SECOND_FACTOR, user, reopened=reopened)
    if reopened:
        services.reopen_account(user)
    return SignIn(Step.SIGNED_IN, user, reopened=reopened)


def refusal(user: User, config, now: datetime) -> Step | None:
    """Why ``user`` may not sign in now, by any path (None: they may)."""
    if user.minor_flagged_at is not None:
        return Step.MINOR
    if user.suspended_at is not None:
        return Step.SUSPENDED
    if user.closed_at is not None and not services.can_reopen(user, config, now):
        return Step.BEING_ERASED
    return None
