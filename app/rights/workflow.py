"""Rights requests: filing, confirming, deadlines, staff transitions, legal holds, the digest.

No request access; flush only.
"""

from __future__ import annotations

import calendar
import secrets
from datetime import date, datetime, timedelta

from flask import current_app
from itsdangerous import BadData, URLSafeTimedSerializer
from sqlalchemy import select

from app import references, throttle
from app.addresses import canonical_email
from app.audit import services as audit
from app.audit.models import AuditAction
from app.auth.models import SessionEndReason, User, UserRole
from app.auth.services import end_sessions
from app.contact.models import ContactThread, MessageKind
from app.email import external_url, queue_email
from app.extensions import db
from app.rights import inventory
from app.rights.models import (
    OPEN_STATUSES,
    REQUEST_TRANSITIONS,
    JobRun,
    LegalHold,
    RequestEvent,
    RequestStatus,
    RequestType,
    RightsRequest,
    TransitionRefused,
)
from app.security import hash_token

CODE_MINUTES = 10
CODE_ATTEMPTS = 5
MINOR_DAYS = 7


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later, clamped to the end of a shorter month (31 Jan + 1 = 28/29 Feb)."""
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def due_date(confirmed: date, minor: bool = False) -> date:
    return confirmed + timedelta(days=MINOR_DAYS) if minor else add_months(confirmed, 1)


def find_request(reference: str) -> RightsRequest | None:
    return db.session.scalar(select(RightsRequest).where(RightsRequest.reference == reference))


def new_reference() -> str:
    return references.new_reference("PRV", 6)


def _event(req: RightsRequest, to_status: RequestStatus | None, now: datetime, actor=None, note: str | None = None,
           internal: bool = False) -> None:
    """Record a note or a move (refused by REQUEST_TRANSITIONS when the table does not allow it)."""
    if to_status:
        REQUEST_TRANSITIONS.check(req.status, to_status)
    db.session.add(RequestEvent(request_id=req.id, created_at=now, from_status=req.status if to_status else None,
                                to_status=to_status, actor_id=actor.id if actor else None, note=note,
                                internal=internal))
    if to_status:
        req.status = to_status


def address_limit_key(email: str) -> str:
    """The key the per-address limit of rights requests (``RIGHTS_RATE_LIMIT_ADDRESS``) counts
    under: the form's filings and those of authorized agents, for every spelling of the address."""
    return throttle.throttle_key("rights-address", canonical_email(email))


def file_request(kind: RequestType, email: str, details: str, user: User | None, locale: str, now: datetime,
                 guardian: bool = False) -> tuple[RightsRequest, str | None]:
    """Record a request. A signed-in requester (already re-authenticated) is confirmed at once;
    anyone else gets a 6-digit code by e-mail. Returns (request, code or None).

    ``guardian``: a parent or guardian asks about a child's data: the request is handled as a
    minor's (due in 7 days; an erasure deletes rather than anonymises) and its details say so.
    """
    if guardian:
        details = "[Parent or guardian request about a child's data] " + details
    req = RightsRequest(reference=new_reference(), type=kind, email=email.strip().lower(), details=details,
                        user_id=user.id if user else None, locale=locale, created_at=now,
                        status=RequestStatus.UNCONFIRMED, minor=guardian)
    db.session.add(req)
    db.session.flush()
    if user is not None:
        confirm(req, now)
        return req, None
    code = f"{secrets.randbelow(10**6):06d}"
    req.code_hash = hash_token(f"{req.id}:{code}")
    req.code_expires_at = now + timedelta(minutes=CODE_MINUTES)
    queue_email(req.email, "rights_code", locale, code=code, minutes=CODE_MINUTES, reference=req.reference)
    db.session.flush()
    return req, code


def check_code(req: RightsRequest, code: str, now: datetime) -> bool:
    """Confirm with the e-mailed code: valid 10 minutes, 5 attempts."""
    if req.status != RequestStatus.UNCONFIRMED or req.code_hash is None:
        return False
    if req.code_attempts >= CODE_ATTEMPTS or (req.code_expires_at and now > req.code_expires_at):
        return False
    req.code_attempts += 1
    if not secrets.compare_digest(req.code_hash, hash_token(f"{req.id}:{code.strip()}")):
        db.session.flush()
        return False
    confirm(req, now)
    return True


def confirm(req: RightsRequest, now: datetime) -> None:
    req.confirmed_at = now
    req.code_hash = None
    req.due_on = due_date(now.date(), req.minor)
    _event(req, RequestStatus.RECEIVED, now)
    if req.user_id is None:
        owner = db.session.scalar(select(User).where(User.email == req.email))
        req.user_id = owner.id if owner else None
    queue_email(req.email, "rights_receipt", req.locale, reference=req.reference, kind=req.type,
                due_on=req.due_on.isoformat(), status_url=status_url(req))
    db.session.flush()


def _links(secret_key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt="rights-request-link")


def status_url(req: RightsRequest) -> str:
    token = _links(current_app.config["SECRET_KEY"]).dumps({"r": req.id, "ref": req.reference})
    return external_url("rights.show_request_status", token=token)


def request_from_token(token: str, secret_key: str, max_age_days: int = 90) -> RightsRequest | None:
    """The request a status link names; None when the link is altered or older than
    ``max_age_days`` (every e-mail about the request carries a fresh one)."""
    try:
        data = _links(secret_key).loads(token, max_age=max_age_days * 86400)
    except BadData:
        return None
    req = db.session.get(RightsRequest, data.get("r")) if isinstance(data, dict) else None
    return req if req is not None and req.reference == data.get("ref") else None


# --- staff -----------------------------------------------------------------------------------------


def audit_request(staff, req: RightsRequest, action: str, now: datetime, reason: str | None = None, ip=None) -> None:
    """The audit row of a staff action on a request (its owner, when there is one, is the subject)."""
    owner = db.session.get(User, req.user_id) if req.user_id else None
    audit.record(staff, AuditAction(f"rights:{action}"), now, target_user=owner, target=req.reference,
                 reason=reason, ip=ip)


def assign(req: RightsRequest, staff, assignee_id: int | None, now: datetime, ip=None) -> None:
    req.assignee_id = assignee_id or None
    if req.status == RequestStatus.RECEIVED:
        _event(req, RequestStatus.OPEN, now, staff)
    audit_request(staff, req, "assign", now, reason=str(assignee_id or "nobody"), ip=ip)


def add_note(req: RightsRequest, staff, note: str, now: datetime, ip=None) -> None:
    _event(req, None, now, staff, note=note, internal=True)
    audit_request(staff, req, "note", now, ip=ip)


def start(req: RightsRequest, staff, now: datetime, ip=None) -> None:
    if req.status not in (RequestStatus.RECEIVED, RequestStatus.OPEN, RequestStatus.EXTENDED):
        raise TransitionRefused("Only a received, open or extended request can be started.")
    _event(req, RequestStatus.IN_PROGRESS, now, staff)
    audit_request(staff, req, "start", now, ip=ip)


def extend(req: RightsRequest, staff, months: int, reason: str, today: date, now: datetime, ip=None) -> None:
    """One extension of one or two months, before the due date, with a reason, told to the requester."""
    if req.extended:
        raise TransitionRefused("This request was extended once already; a second extension is not allowed.")
    if req.status not in OPEN_STATUSES or req.due_on is None or today > req.due_on:
        raise TransitionRefused("Only an open request can be extended, and only before its due date.")
    if months not in (1, 2) or not reason.strip():
        raise TransitionRefused("Give one or two months and a reason.")
    req.due_on = add_months(req.due_on, months)
    req.extended = True
    _event(req, RequestStatus.EXTENDED, now, staff, note=reason)
    audit_request(staff, req, "extend", now, reason=f"+{months} months: {reason}", ip=ip)
    queue_email(req.email, "rights_update", req.locale, reference=req.reference, status=RequestStatus.EXTENDED,
                due_on=req.due_on.isoformat(), note=reason, status_url=status_url(req))


def complete(req: RightsRequest, staff, outcome: str, config, now: datetime, ip=None) -> None:
    """Complete: erasure runs the erasure now; access sends the export link; others record what was done."""
    if req.status not in OPEN_STATUSES or req.status == RequestStatus.ON_HOLD:
        raise TransitionRefused("Only an open request that is not on hold can be completed.")
    owner = db.session.get(User, req.user_id) if req.user_id else None
    email, erased = req.email, req.type == RequestType.ERASURE
    if erased:
        if owner is not None and active_hold(owner.id, now.date()):
            raise TransitionRefused("The account is under a legal hold: release it before erasing.")
        audit_request(staff, req, "complete", now, reason="erasure", ip=ip)  # before the address goes
        report = inventory.erase_person(email, config, now, hard=req.minor, notify_account=False)
        outcome = "\n".join(filter(None, [outcome, inventory.summary(report)]))
        owner = None
    if req.type == RequestType.ACCESS and not outcome:
        outcome = ("Your data is ready: sign in and download it from your privacy page." if owner
                   else held_for_address(req.email))
    req.outcome = outcome
    req.closed_at = now
    _event(req, RequestStatus.COMPLETED, now, staff, note=None if erased else outcome)
    if not erased:
        audit_request(staff, req, "complete", now, reason=outcome[:400], ip=ip)
    queue_email(email, "rights_update", req.locale, ephemeral=erased, reference=req.reference,
                status=RequestStatus.COMPLETED, due_on=req.due_on.isoformat() if req.due_on else "", note=outcome,
                status_url=status_url(req),
                export_url=external_url("rights.show_privacy") if req.type == RequestType.ACCESS and owner else None)


def held_for_address(email: str) -> str:
    """What the site holds for an address without an account, written out for an access request."""
    threads = db.session.scalars(select(ContactThread).where(ContactThread.email == email)).all()
    if not threads:
        return "We hold no account and no support conversation for this address."
    lines = ["We hold no account for this address. We hold these support conversations:"]
    for thread in threads:
        lines.append(f"- {thread.reference} ({thread.topic}), from {thread.created_at:%Y-%m-%d}, name given: "
                     f"{thread.name}, {len([m for m in thread.messages if m.kind != MessageKind.NOTE])} messages:")
        lines += [f"  [{m.created_at:%Y-%m-%d %H:%M}] {m.body}" for m in thread.messages if m.kind != MessageKind.NOTE]
    return "\n".join(lines)


def reject(req: RightsRequest, staff, reason: str, now: datetime, ip=None) -> None:
    if not reason.strip():
        raise TransitionRefused("A rejection needs a reason.")
    if req.status not in OPEN_STATUSES:
        raise TransitionRefused("Only an open request can be rejected.")
    req.outcome = reason
    req.closed_at = now
    _event(req, RequestStatus.REJECTED, now, staff, note=reason)
    audit_request(staff, req, "reject", now, reason=reason[:400], ip=ip)
    queue_email(req.email, "rights_update", req.locale, reference=req.reference, status=RequestStatus.REJECTED,
                due_on="", note=reason, status_url=status_url(req), complaint=True)


def withdraw(req: RightsRequest, reason: str, now: datetime) -> None:
    """The requester (through their agent) withdraws a request that is not closed."""
    if req.status not in OPEN_STATUSES and req.status != RequestStatus.UNCONFIRMED:
        raise TransitionRefused("Only a request that is not closed can be withdrawn.")
    req.closed_at, req.code_hash = now, None
    _event(req, RequestStatus.REVOKED, now, note=reason)
    if req.confirmed_at is not None:  # nobody to tell before the address was confirmed
        queue_email(req.email, "rights_update", req.locale, reference=req.reference, status=RequestStatus.REVOKED,
                    due_on="", note=reason, status_url=status_url(req))


# --- legal holds and minors -------------------------------------------------------------------------


def active_hold(user_id: int, today: date) -> LegalHold | None:
    return db.session.scalar(select(LegalHold).where(LegalHold.user_id == user_id, LegalHold.released_at.is_(None),
                                                     LegalHold.ends_on >= today))


def place_hold(user: User, staff, reason: str, ends_on: date, now: datetime, ip=None) -> LegalHold:
    if not reason.strip():
        raise TransitionRefused("A legal hold needs a reason.")
    hold = LegalHold(user_id=user.id, reason=reason, placed_by=staff.id, placed_at=now, ends_on=ends_on)
    db.session.add(hold)
    for req in db.session.scalars(select(RightsRequest).where(RightsRequest.user_id == user.id,
                                                              RightsRequest.status.in_(OPEN_STATUSES))):
        if req.status != RequestStatus.ON_HOLD:
            _event(req, RequestStatus.ON_HOLD, now, staff, note="legal hold")
    audit.record(staff, AuditAction.RIGHTS_HOLD, now, target_user=user, reason=f"until {ends_on}: {reason}", ip=ip)
    db.session.flush()
    return hold


def release_hold(hold: LegalHold, staff, now: datetime, ip=None) -> None:
    hold.released_at = now
    for req in db.session.scalars(select(RightsRequest).where(RightsRequest.user_id == hold.user_id,
                                                              RightsRequest.status == RequestStatus.ON_HOLD)):
        _event(req, RequestStatus.OPEN, now, staff, note="legal hold released")
    user = db.session.get(User, hold.user_id)
    audit.record(staff, AuditAction.RIGHTS_RELEASE, now, target_user=user, reason=hold.reason, ip=ip)
    db.session.flush()


def flag_minor(user: User, staff, now: datetime, ip=None) -> RightsRequest:
    """Stop the account at once (no sign-in, no API key works, every session ends) and open an
    erasure request due in 7 days that deletes rather than anonymises."""
    if user.minor_flagged_at is None:
        user.minor_flagged_at = now
    end_sessions(user, SessionEndReason.MINOR, now)
    req = RightsRequest(reference=new_reference(), type=RequestType.ERASURE, email=user.email, user_id=user.id,
                        details="Account flagged by staff as belonging to a minor.", locale=user.locale or "en",
                        created_at=now, status=RequestStatus.UNCONFIRMED, minor=True)
    db.session.add(req)
    db.session.flush()
    req.confirmed_at = now
    req.due_on = due_date(now.date(), minor=True)
    _event(req, RequestStatus.RECEIVED, now, staff, note="minor")
    audit.record(staff, AuditAction.RIGHTS_MINOR, now, target_user=user, reason=req.reference, ip=ip)
    db.session.flush()
    return req


# --- the queue and the digest -------------------------------------------------------------------------


def queue(filter_name: str | None, staff_id: int, today: date) -> list[RightsRequest]:
    statement = select(RightsRequest).where(RightsRequest.status != RequestStatus.UNCONFIRMED).order_by(
        RightsRequest.due_on.is_(None), RightsRequest.due_on)
    open_only = RightsRequest.status.in_(OPEN_STATUSES)
    if filter_name == "overdue":
        statement = statement.where(open_only, RightsRequest.due_on < today)
    elif filter_name == "week":
        statement = statement.where(open_only, RightsRequest.due_on.between(today, today + timedelta(days=7)))
    elif filter_name == "mine":
        statement = statement.where(open_only, RightsRequest.assignee_id == staff_id)
    elif filter_name == "unassigned":
        statement = statement.where(open_only, RightsRequest.assignee_id.is_(None))
    return list(db.session.scalars(statement.limit(500)))


def requests_of(user_id: int) -> list[RightsRequest]:
    return list(db.session.scalars(select(RightsRequest).where(
        RightsRequest.user_id == user_id, RightsRequest.status != RequestStatus.UNCONFIRMED)
        .order_by(RightsRequest.id.desc())))


def send_digest(config, today: date) -> int | None:
    """E-mail privacy staff the requests due within 7 days and the overdue ones, once a day.

    Returns the number of requests listed, or None when the digest already went out today.
    """
    run = db.session.get(JobRun, "rights-digest")
    if run is not None and run.last_day >= today:
        return None
    due = [r for r in queue("week", 0, today)] + [r for r in queue("overdue", 0, today)]
    recipients = set(db.session.scalars(select(User.email).join(UserRole).where(UserRole.role.in_(("privacy",
                                                                                                  "admin")))))
    if config.get("PRIVACY_STAFF_EMAIL"):
        recipients.add(config["PRIVACY_STAFF_EMAIL"])
    items = [{"reference": r.reference, "type": r.type, "due_on": r.due_on.isoformat(), "overdue": r.due_on < today}
             for r in sorted({r.id: r for r in due}.values(), key=lambda r: r.due_on)]
    for email in sorted(recipients):
        queue_email(email, "rights_digest", config["BABEL_DEFAULT_LOCALE"], items=items, today=today.isoformat(),
                    queue_url=external_url("staff.list_requests"))
    if run is None:
        db.session.add(JobRun(name="rights-digest", last_day=today))
    else:
        run.last_day = today
    db.session.flush()
    return len(items)
