"""Signed messages of the Data Rights Protocol (section 3.07): a libsodium Ed25519 signature
prepended to a JSON document ("combined mode"), base64-encoded, sent as text/plain. Checked in
the spec's order: it decodes from base64; the signature verifies with the agent's key; the
agent-id is that agent's; the business-id is ours; the time is after issued-at and before
expires-at. Each refusal says which step failed. No request, no commit.

Parsed strictly, so one signed message has one spelling and one meaning: only canonical base64
(the unused bits of the last character zero, as every encoder writes them; otherwise one message
has up to 16 spellings, each of which would pass as a new message), a JSON object with no claim
twice and no NaN or Infinity; and a message lives at most ``DRP_MAX_MESSAGE_MINUTES`` from
issued-at to expires-at (the spec recommends short windows; OSIRAA signs 15 minutes)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from datetime import UTC, datetime, timedelta

from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

from app.drp.models import Agent

KEY_BYTES = 32


class Refusal(Exception):
    """A refused message: the HTTP status, the message for the agent, and whether it is final."""

    def __init__(self, status: int, message: str, fatal: bool = False):
        super().__init__(message)
        self.status, self.message, self.fatal = status, message, fatal

    def body(self) -> dict:
        body = {"code": str(self.status), "message": self.message}
        if self.fatal:
            body["fatal"] = True
        return body


def verify_key(encoded: str) -> VerifyKey:
    """An agent's public key from its base64 form; ValueError when it is not 32 bytes."""
    raw = base64.b64decode(encoded.strip(), validate=True)
    if len(raw) != KEY_BYTES:
        raise ValueError("an Ed25519 public key has 32 bytes")
    return VerifyKey(raw)


def message_hash(body: bytes) -> str:
    return hashlib.sha256(body.strip()).hexdigest()


def open_message(body: bytes, agent: Agent) -> dict:
    """The JSON claims of a signed message from ``agent`` (steps 1 and 2 of section 3.07)."""
    text = body.strip()
    try:
        signed = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise Refusal(400, "The message does not decode from base64.") from None
    if base64.b64encode(signed) != text:
        raise Refusal(400, "The message is not in canonical base64 (RFC 4648, section 3.5): the unused bits "
                           "of its last character must be zero.")
    try:
        message = verify_key(agent.verify_key).verify(signed)
    except (BadSignatureError, ValueError):
        raise Refusal(403, "The signature does not verify with the agent's key.") from None
    try:
        claims = json.loads(message.decode("utf-8"), object_pairs_hook=_claims, parse_constant=_no_constant)
    except _Twice as twice:
        raise Refusal(400, f"The signed message carries the claim {twice} twice.") from None
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise Refusal(400, "The signed message is not JSON.") from None
    if not isinstance(claims, dict):
        raise Refusal(400, "The signed message is not a JSON object.")
    return claims


class _Twice(ValueError):
    pass


def _claims(pairs: list[tuple[str, object]]) -> dict:
    found: dict = {}
    for name, value in pairs:
        if name in found:
            raise _Twice(json.dumps(name))
        found[name] = value
    return found


def _no_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def _time(claims: dict, name: str) -> datetime:
    value = claims.get(name)
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None:
        raise Refusal(400, f"{name} is not an ISO 8601 time.")
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def check_claims(claims: dict, agent: Agent, config, now: datetime) -> None:
    """Steps 3 to 6 of section 3.07, in order, then the message's lifetime: expires-at after
    issued-at by at most ``DRP_MAX_MESSAGE_MINUTES``, so a message cannot be replayed for long."""
    if claims.get("agent-id") != agent.agent_id:
        raise Refusal(403, "The message names another agent than the one presenting it.")
    if claims.get("business-id") != config["DRP_BUSINESS_ID"]:
        raise Refusal(403, "The message is addressed to another business.")
    issued = _time(claims, "issued-at")
    if now < issued:
        raise Refusal(400, "issued-at is in the future: check the agent's clock.")
    expires = _time(claims, "expires-at")
    if now >= expires:
        raise Refusal(400, "The message has expired (expires-at has passed).", fatal=True)
    minutes = config["DRP_MAX_MESSAGE_MINUTES"]
    if expires - issued > timedelta(minutes=minutes):
        raise Refusal(400, f"The message is valid for longer than {minutes} minutes (expires-at minus issued-at); "
                           "sign a new one with a shorter window.", fatal=True)
