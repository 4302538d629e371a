"""The Data Rights Protocol on top of our rights requests: pairing agents for bearer tokens,
filing an exercise request as a rights request (the person confirms it with the code we e-mail,
as every request without a session does), its status in the protocol's terms, revoking it, and
the status callbacks, delivered by a job (``flask drp callbacks``), never inside a request.
No request, no commit (flush only)."""

from __future__ import annotations

import json
import secrets
import urllib.request
import uuid
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy import not_, or_, select

from app import throttle
from app.database import insert_once, lock_row
from app.drp.models import DRP_TRANSITIONS, FINAL, Agent, AgentRequest, AgentToken, DrpStatus
from app.drp.signing import Refusal, check_claims
from app.email import external_url
from app.extensions import db
from app.rights import workflow
from app.rights.models import OPEN_STATUSES, RequestStatus, RequestType, RightsRequest
from app.security import hash_token

VERSION = "0.9.4"
# The rights we answer, and the kind of rights request each files (None: answered at once). The
# opt-out has two spellings: 3.01's table and OSIRAA's model write sale:opt_out, the spec's example
# and OSIRAA's agents (since 2025) sale:opt-out.
SUPPORTED = {"access": RequestType.ACCESS, "deletion": RequestType.ERASURE, "sale:opt_out": None, "sale:opt-out": None}
# What marks a message of another purpose: an exercise names its right, a revoke gives a reason.
# A pairing message carries neither, and a revoke no right, so one message never serves twice.
EXERCISE_CLAIM, REVOKE_CLAIM = "exercise", "reason"
CALLBACK_TIMEOUT_SECONDS = 5
CALLBACK_BACKOFF = (60, 300, 1800, 7200, 43200)


# --- agents and pairing ---------------------------------------------------------------------------


def find_agent(agent_id: str) -> Agent | None:
    agent = db.session.scalar(select(Agent).where(Agent.agent_id == agent_id[:64]))
    return agent if agent is not None and agent.revoked_at is None else None


def agent_for_token(header: str | None) -> Agent | None:
    """The agent a bearer token was paired for (None: missing, unknown, or the agent revoked)."""
    if not header or not header.startswith("Bearer ") or len(header) > 300:
        return None
    token = db.session.scalar(select(AgentToken).where(AgentToken.token_hash == hash_token(header[7:].strip())))
    return token.agent if token is not None and token.agent.revoked_at is None else None


def pair(agent: Agent, claims: dict, digest: str, config, now: datetime) -> str:
    """A new bearer token for a valid pairing message (section 2.05); returns it once. The message
    must be a pairing message (no right, no revoke reason) and is taken once."""
    check_claims(claims, agent, config, now)
    if EXERCISE_CLAIM in claims or REVOKE_CLAIM in claims:
        raise Refusal(403, "This is not a pairing message.")
    token = secrets.token_urlsafe(32)
    if not insert_once(AgentToken.__table__, agent_pk=agent.id, token_hash=hash_token(token), message_hash=digest,
                       created_at=now):
        raise Refusal(403, "This pairing message was already used: each one works once.")
    return token


# --- exercise, status, revoke -------------------------------------------------------------------------


def _callback_url(value, agent: Agent) -> str | None:
    if value in (None, ""):
        return None
    url = urlsplit(value) if isinstance(value, str) and len(value) <= 500 else None
    loopback = url is not None and url.hostname in ("127.0.0.1", "localhost", "::1")
    if url is None or url.scheme not in ("https", "http") or (url.scheme == "http" and not loopback) \
            or url.hostname != urlsplit(agent.web_url).hostname:
        raise Refusal(400, "status_callback must be an https URL on the agent's own host.")
    return value


def exercise(agent: Agent, claims: dict, digest: str, config, now: datetime) -> AgentRequest:
    """File an exercise request (section 2.01) after the signature and claim checks."""
    check_claims(claims, agent, config, now)
    if not str(claims.get("drp.version", "")).startswith("0.9"):
        raise Refusal(400, f"Unsupported protocol version; this endpoint speaks {VERSION}.")
    kind = claims.get("exercise")
    if kind not in SUPPORTED:
        raise Refusal(400, "Unsupported rights actions submitted.", fatal=True)
    callback = _callback_url(claims.get("status_callback"), agent)
    regime = claims.get("regime") if isinstance(claims.get("regime"), str) else None
    email = claims.get("email") if isinstance(claims.get("email"), str) else None
    files = SUPPORTED[kind] is not None and email and "@" in email and len(email) <= 254
    limit = config["RIGHTS_RATE_LIMIT_ADDRESS"]
    if files and not throttle.check(limit, workflow.address_limit_key(email)).allowed:
        raise Refusal(429, "Too many rights requests for this address in a short time; try again later.")
    if not insert_once(AgentRequest.__table__, request_id=str(uuid.uuid4()), agent_pk=agent.id,
                       agent_request_id=str(claims.get("agent-request-id") or "")[:200] or None, exercise=kind,
                       regime=(regime or "")[:20] or None, status_callback=callback, message_hash=digest,
                       received_at=now, callback_attempts=0):
        raise Refusal(409, "This signed request was already received: each one works once.")
    filed = db.session.scalar(select(AgentRequest).where(AgentRequest.message_hash == digest))
    if SUPPORTED[kind] is None:
        filed.status = DRP_TRANSITIONS.check(filed.status, DrpStatus.FULFILLED)
        filed.processing_details = "We do not sell personal information: nothing to opt out of."
    elif not email or "@" not in email or len(email) > 254:
        filed.status, filed.reason = DRP_TRANSITIONS.check(filed.status, DrpStatus.DENIED), "no_match"
        filed.processing_details = "We match a person by e-mail address, and the request carried none."
    else:
        details = (f"Filed through the Data Rights Protocol by {agent.name} ({agent.agent_id}), request "
                   f"{filed.request_id}, regime {regime or 'voluntary'}.")
        req, _code = workflow.file_request(SUPPORTED[kind], email, details, None, "en", now)
        filed.rights_request_id = req.id
        throttle.hit(limit, workflow.address_limit_key(email))
    db.session.flush()
    return filed


def find_request(request_id: str) -> AgentRequest | None:
    """A request by its id; the caller refuses another agent's (403)."""
    return db.session.scalar(select(AgentRequest).where(AgentRequest.request_id == request_id[:36]))


def _iso(moment: datetime | None) -> str | None:
    return moment.replace(microsecond=0).isoformat() + "Z" if moment else None


def status(filed: AgentRequest, config, now: datetime) -> dict:
    """The Exercise Status object (section 3.03), read from the rights request behind it."""
    req: RightsRequest | None = filed.rights_request
    state, reason, details, extra = filed.status, filed.reason, filed.processing_details, {}
    if state is None and req is None:
        state, reason, details = DrpStatus.DENIED, "other", "The request is no longer on record."
    elif state is None:
        state, reason, details, extra = _from_rights(filed, req, now)
    body = {"request_id": filed.request_id, "received_at": _iso(filed.received_at), "status": state}
    if filed.agent_request_id:
        body["agent_request_id"] = filed.agent_request_id
    if reason:
        body["reason"] = reason
    if details:
        body["processing_details"] = details
    body.update(extra)
    return body


def _from_rights(filed: AgentRequest, req: RightsRequest, now: datetime) -> tuple:
    """Every in_progress answer carries expected_by (3.03: MUST once acknowledged): the request's
    deadline, and before the person verifies, the deadline counted from when we received it."""
    due = req.due_on or workflow.due_date(filed.received_at.date(), req.minor)
    expected = {"expected_by": due.isoformat() + "T23:59:59Z"}
    if req.status == RequestStatus.UNCONFIRMED:
        if req.code_expires_at and now > req.code_expires_at:
            return (DrpStatus.DENIED, "insuf_verification",
                    "The code we e-mailed to the person was not entered in time.", {})
        url = external_url("drp.verify_identity", request_id=filed.request_id)
        return DrpStatus.IN_PROGRESS, "need_user_verification", "We e-mailed a code to the person; they enter it at " \
            "the verification page.", {"user_verification_url": url, **expected}
    if req.status in OPEN_STATUSES:
        note = {RequestStatus.EXTENDED: "The deadline was extended, as the law allows; the person was told why.",
                RequestStatus.ON_HOLD: "On hold while we wait for something from the person."}.get(req.status)
        return DrpStatus.IN_PROGRESS, None, note, expected
    if req.status == RequestStatus.COMPLETED:
        return DrpStatus.FULFILLED, None, "Completed; the result was e-mailed to the person.", {}
    if req.status == RequestStatus.REVOKED:
        return DrpStatus.REVOKED, None, None, {}
    if req.status == RequestStatus.REJECTED:
        return DrpStatus.DENIED, "other", (req.outcome or "")[:500] or None, {}
    return DrpStatus.EXPIRED, None, None, {}


def revoke(filed: AgentRequest, claims: dict, config, now: datetime) -> None:
    """Withdraw a request that is not final (section 2.04), for a signed message whose claims pass
    the checks of section 3.07 like an exercise's and that names no right (an exercise message is
    not a revoke). Concurrent revokes take the agent request's row lock in turn: the first
    withdraws, the others find it final."""
    check_claims(claims, filed.agent, config, now)
    if EXERCISE_CLAIM in claims:
        raise Refusal(400, "This is an exercise message, not a revoke message.")
    reason = claims.get(REVOKE_CLAIM) if isinstance(claims.get(REVOKE_CLAIM), str) else None
    lock_row(AgentRequest.__table__, filed.id)
    db.session.refresh(filed)
    if filed.rights_request is not None:
        db.session.refresh(filed.rights_request)
    if status(filed, config, now)["status"] in FINAL:
        raise Refusal(409, "The request is already final and cannot be revoked.")
    req = filed.rights_request
    if req is not None:
        workflow.withdraw(req, (reason or "").strip()[:500] or "Revoked by the person's agent.", now)
    filed.status, filed.reason = DRP_TRANSITIONS.check(filed.status, DrpStatus.REVOKED), None
    db.session.flush()


# --- status callbacks (a job, never inside a request) ---------------------------------------------


def _deliver(url: str, body: dict) -> bool:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",  # noqa: S310 - http(s) only
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=CALLBACK_TIMEOUT_SECONDS) as response:  # noqa: S310 - checked URL
            return 200 <= response.status < 300
    except OSError:
        return False


def send_callbacks(config, now: datetime, limit: int = 200) -> tuple[int, int]:
    """POST each changed status to its agent's status_callback; (delivered, failed). A failure is
    tried again later, backing off; only the newest status is sent."""
    told_final = or_(*[AgentRequest.callback_sent.like(f"{state}|%") for state in FINAL])
    due = db.session.scalars(select(AgentRequest).where(  # a final status delivered is never sent again
        AgentRequest.status_callback.is_not(None), or_(AgentRequest.callback_sent.is_(None), not_(told_final)),
        or_(AgentRequest.callback_next_at.is_(None), AgentRequest.callback_next_at <= now))
        .order_by(AgentRequest.id).limit(limit)).all()
    delivered = failed = 0
    for filed in due:
        body = status(filed, config, now)
        key = f"{body['status']}|{body.get('reason') or ''}"
        if key == filed.callback_sent:
            continue
        if _deliver(filed.status_callback, body):
            filed.callback_sent, filed.callback_attempts, filed.callback_next_at = key, 0, None
            delivered += 1
        else:
            wait = CALLBACK_BACKOFF[min(filed.callback_attempts, len(CALLBACK_BACKOFF) - 1)]
            filed.callback_attempts += 1
            filed.callback_next_at = now + timedelta(seconds=wait)
            failed += 1
        db.session.flush()
    return delivered, failed


def identity_request(request_id: str) -> AgentRequest | None:
    """The request whose person confirms it on the verification page (unconfirmed only)."""
    filed = db.session.scalar(select(AgentRequest).where(AgentRequest.request_id == request_id[:36]))
    return filed if filed is not None and filed.rights_request is not None else None


def safe_redirect(filed: AgentRequest, target: str | None) -> str | None:
    """``redirect_to`` only when it stays on the agent's own host (no open redirect)."""
    if not target or len(target) > 500:
        return None
    url = urlsplit(target)
    return target if url.scheme in ("https", "http") and url.hostname == urlsplit(filed.agent.web_url).hostname \
        else None
