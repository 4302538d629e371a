"""The account actions on a customer's staff page, as one dispatch: who may do each, and doing
it (each writes its audit row and tells the customer, see ``staff.services``). Flush only."""

from __future__ import annotations

from datetime import datetime, timedelta

from app.auth.models import User
from app.keys.services import KeyNotFound
from app.rights import workflow as rights
from app.staff import services

ROLES = {  # the action and the roles that may take it
    "suspend": ("admin", "support"), "unsuspend": ("admin", "support"), "end-sessions": ("admin", "support"),
    "revoke-key": ("admin", "support"), "resend-verification": ("admin", "support"), "minor": ("admin", "privacy"),
    "hold": ("privacy",),
}
HOLD_DAYS = 90

__all__ = ["ROLES", "KeyNotFound", "UnknownAction", "ActionForbidden", "check", "apply"]


class UnknownAction(ValueError):
    """No account action has that name."""


class ActionForbidden(Exception):
    """The staff member's roles do not include one the action needs."""


def check(action: str, actor: User) -> None:
    """Raise UnknownAction or ActionForbidden unless ``actor`` may take ``action``."""
    if action not in ROLES:
        raise UnknownAction(action)
    if not actor.has_role(*ROLES[action]):
        raise ActionForbidden(action)


def apply(user: User, actor: User, action: str, reason: str, key_id: int | None, config, now: datetime,
          ip: str | None = None) -> None:
    """Take ``action`` on ``user``'s account. Raises what ``check`` raises, and KeyNotFound."""
    check(action, actor)
    if action == "suspend":
        services.suspend(user, actor, reason, config, now, ip)
    elif action == "unsuspend":
        services.unsuspend(user, actor, reason, config, now, ip)
    elif action == "end-sessions":
        services.end_all_sessions(user, actor, reason, config, now, ip)
    elif action == "revoke-key":
        services.revoke_key(user, key_id or 0, actor, reason, config, now, ip)
    elif action == "minor":
        rights.flag_minor(user, actor, now, ip)
    elif action == "hold":
        rights.place_hold(user, actor, reason, now.date() + timedelta(days=HOLD_DAYS), now, ip)
    else:
        services.resend_verification(user, actor, reason, config, now, ip)
