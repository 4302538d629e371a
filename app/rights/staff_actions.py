"""What staff do to a rights request from its page, as one dispatch the view calls: assign, note,
start, extend, complete, reject, hold or release, flag a minor. The request page's audit row too."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from app.audit import access
from app.audit.models import AccessCategory
from app.auth.models import User
from app.extensions import db
from app.rights import workflow as rights
from app.rights.models import RequestType, RightsRequest

DEFAULT_HOLD_DAYS = 90


class ActionForbidden(Exception):
    """The staff member's role does not allow this action."""


def needs_confirmation(req: RightsRequest, action: str) -> bool:
    """Destructive actions ask once more, on a page naming what they do (no JavaScript needed)."""
    return (action == "complete" and req.type == RequestType.ERASURE) or action == "minor"


def record_view(staff: User, req: RightsRequest, config, now: datetime, ip: str | None = None) -> None:
    """Audit a staff member opening the request (its details are personal data); its owner sees
    the access on their privacy page."""
    owner = db.session.get(User, req.user_id) if req.user_id else None
    access.record(staff, owner, AccessCategory.RIGHTS, now, config, reference=req.reference)
    rights.audit_request(staff, req, "view", now, ip=ip)


def apply(req: RightsRequest, owner: User | None, staff: User, action: str, *, note: str, assignee: int | None,
          months: int | None, hold_until: date | None, config, now: datetime, ip: str | None = None) -> None:
    """Apply one action (flush only). Raises TransitionRefused when it does not fit the request's
    state or lacks what it needs, ActionForbidden when the staff member's role does not allow it."""
    if action == "assign":
        rights.assign(req, staff, assignee, now, ip)
    elif action == "note" and note:
        rights.add_note(req, staff, note, now, ip)
    elif action == "start":
        rights.start(req, staff, now, ip)
    elif action == "extend":
        rights.extend(req, staff, months or 0, note, now.date(), now, ip)
    elif action == "complete":
        rights.complete(req, staff, note, config, now, ip)
    elif action == "reject":
        rights.reject(req, staff, note, now, ip)
    elif action in ("hold", "release", "minor") and owner is not None:
        _act_on_owner(owner, staff, action, note, hold_until, now, ip)
    else:
        raise rights.TransitionRefused("Choose an action (a note needs text).")


def _act_on_owner(owner: User, staff: User, action: str, note: str, hold_until: date | None, now: datetime,
                  ip: str | None) -> None:
    if action == "hold":
        if not staff.has_role("privacy"):
            raise ActionForbidden()
        rights.place_hold(owner, staff, note, hold_until or (now.date() + timedelta(days=DEFAULT_HOLD_DAYS)), now, ip)
    elif action == "release":
        hold = rights.active_hold(owner.id, now.date())
        if hold is None:
            raise rights.TransitionRefused("There is no active hold.")
        rights.release_hold(hold, staff, now, ip)
    else:
        rights.flag_minor(owner, staff, now, ip)
