"""Passkeys (WebAuthn, with the ``webauthn`` library): the options a browser passes to its
authenticator, and the checks of what comes back, for adding a passkey, signing in with one
alone, using one as the second factor, and confirming a sensitive action. No request, no commit.

A challenge is not stored when it is handed out (a page view writes nothing): it is a signed,
timed token naming its purpose and user, which the authenticator signs inside clientDataJSON.
It works once: an answer that checks out inserts the challenge's hash (a primary key), so the
same answer sent again, even at the same moment, is refused. The signature counter is checked
too; a counter that goes backwards on a fresh challenge means a copy of the authenticator
exists, and that passkey is refused from then on (it is shown so on the security page).
"""

from __future__ import annotations

import ipaddress
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from itsdangerous import BadData, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import delete, select, update
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import parse_client_data_json
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.parse_authentication_credential_json import parse_authentication_credential_json
from webauthn.helpers.parse_registration_credential_json import parse_registration_credential_json
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from app.auth import twofactor
from app.auth.models import Passkey, UsedPasskeyChallenge, User
from app.database import insert_once
from app.extensions import db
from app.security import hash_token

CHALLENGE_SECONDS = 300
MAX_PASSKEYS = 10
NAME_LENGTH = 60
# What each challenge is for. A sign-in alone needs the authenticator to verify its user (PIN or
# biometrics), which makes the passkey two factors by itself; a confirmation too, unless the
# password comes with it (a security key that only senses a touch proves the key, not the person).
REGISTER, SIGN_IN, SECOND_FACTOR, REAUTH = "register", "signin", "second_factor", "reauth"
NEEDS_USER_VERIFICATION = {SIGN_IN}


class PasskeyRefused(Exception):
    """An answer that is not accepted. ``reason``: invalid, expired, replayed, unknown, cloned (a
    copy found now), cloned_before, duplicate, too_many, or unverified (a confirmation by a key
    that did not verify its user, without the password)."""

    def __init__(self, reason: str, passkey: Passkey | None = None):
        super().__init__(reason)
        self.reason = reason
        self.passkey = passkey


@dataclass(frozen=True)
class RelyingParty:
    """This site as authenticators know it: the domain passkeys are bound to, and its origin."""

    id: str
    name: str
    origin: str

    @property
    def available(self) -> bool:
        """Passkeys are bound to a domain name; a site served on an IP address cannot have them."""
        try:
            ipaddress.ip_address(self.id.strip("[]"))
        except ValueError:
            return bool(self.id)
        return False


def relying_party(config) -> RelyingParty:
    site = urlsplit(config["SITE_URL"])
    return RelyingParty(id=site.hostname or "", name=config["SITE_NAME"], origin=f"{site.scheme}://{site.netloc}")


# --- challenges -----------------------------------------------------------------------------


def _serializer(config) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(config["SECRET_KEY"], salt="passkey-challenge")


def new_challenge(purpose: str, user_id: int | None, config, handle: bytes | None = None) -> bytes:
    """A signed, timed challenge; a registration's also carries the account handle it offered."""
    claims = {"p": purpose, "u": user_id, "n": secrets.token_urlsafe(16)}
    if handle is not None:
        claims["h"] = handle.hex()
    return _serializer(config).dumps(claims).encode("ascii")


def _check_challenge(challenge: bytes, purpose: str, user_id: int | None, config) -> dict:
    try:
        claims = _serializer(config).loads(challenge.decode("ascii"), max_age=CHALLENGE_SECONDS)
    except (BadData, UnicodeDecodeError) as exc:
        raise PasskeyRefused("expired" if isinstance(exc, SignatureExpired) else "invalid") from None
    if not isinstance(claims, dict) or claims.get("p") != purpose or claims.get("u") != user_id:
        raise PasskeyRefused("invalid")
    return claims


def _use_challenge(challenge: bytes, now: datetime) -> None:
    """Mark the challenge answered; a second answer (a replay, or a racing copy) is refused."""
    if not insert_once(UsedPasskeyChallenge.__table__, challenge_hash=hash_token(challenge.decode("ascii")),
                       expires_at=now + timedelta(seconds=CHALLENGE_SECONDS)):
        raise PasskeyRefused("replayed")


# --- options for the browser ----------------------------------------------------------------


def registration_options(user: User, config) -> str:
    """The JSON for ``navigator.credentials.create``: a discoverable credential (a passkey) where
    the authenticator can keep one, else a credential the site names (a U2F key, or a FIDO2 key
    without room or a PIN: the second factor after the password); none of the user's existing
    ones again. ``credProps`` asks the browser to say which of the two it made."""
    rp = relying_party(config)
    existing = user_passkeys(user)
    handle = existing[0].user_handle if existing else secrets.token_bytes(32)
    options = generate_registration_options(
        rp_id=rp.id, rp_name=rp.name, user_name=user.email, user_display_name=user.nickname or user.email,
        user_id=handle, challenge=new_challenge(REGISTER, user.id, config, handle), timeout=CHALLENGE_SECONDS * 1000,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.PREFERRED, user_verification=UserVerificationRequirement.PREFERRED),
        exclude_credentials=[PublicKeyCredentialDescriptor(id=p.credential_id) for p in existing],
    )
    return json.dumps({**json.loads(options_to_json(options)), "extensions": {"credProps": True}})


def authentication_options(purpose: str, user: User | None, config) -> str:
    """The JSON for ``navigator.credentials.get``: any passkey of this site for a sign-in alone,
    the user's own passkeys for a second factor or a confirmation."""
    allowed = [PublicKeyCredentialDescriptor(id=p.credential_id) for p in user_passkeys(user)] if user else []
    required = purpose in NEEDS_USER_VERIFICATION
    options = generate_authentication_options(
        rp_id=relying_party(config).id, challenge=new_challenge(purpose, user.id if user else None, config),
        timeout=CHALLENGE_SECONDS * 1000, allow_credentials=allowed,
        user_verification=UserVerificationRequirement.REQUIRED if required else UserVerificationRequirement.PREFERRED,
    )
    return options_to_json(options)


# --- checking what the authenticator answered ------------------------------------------------


@dataclass(frozen=True)
class Added:
    """A passkey just kept; ``first`` when it is the account's first second factor (it turns
    two-factor authentication on, and recovery codes come with it)."""

    passkey: Passkey
    first: bool


def register(user: User, credential_json: str, name: str, config, now: datetime) -> Added:
    """Check a new credential and keep it as a passkey of ``user``.

    Concurrent registrations of one account run one after another from the count on (the user's
    row is locked), so the limit holds and exactly one of them is the first second factor.
    """
    if len(user_passkeys(user)) >= MAX_PASSKEYS:  # early, before the work of checking
        raise PasskeyRefused("too_many")
    rp = relying_party(config)
    try:
        credential = parse_registration_credential_json(credential_json)
        challenge = parse_client_data_json(credential.response.client_data_json).challenge
        claims = _check_challenge(challenge, REGISTER, user.id, config)
        handle = bytes.fromhex(claims.get("h") or "")
        verified = verify_registration_response(credential=credential, expected_challenge=challenge,
                                                expected_rp_id=rp.id, expected_origin=rp.origin)
    except (WebAuthnException, ValueError, TypeError, KeyError):
        raise PasskeyRefused("invalid") from None
    _use_challenge(challenge, now)
    twofactor.lock_second_factors(user)
    if len(user_passkeys(user)) >= MAX_PASSKEYS:
        raise PasskeyRefused("too_many")
    first = not user.has_2fa
    transports = ",".join(t.value for t in credential.response.transports or [])[:100] or None
    # One statement that skips a credential already kept (by any account, even one registering
    # the same credential at this moment), so a duplicate is refused, never a database error.
    if not insert_once(
        Passkey.__table__, user_id=user.id, credential_id=verified.credential_id,
        public_key=verified.credential_public_key, user_handle=handle, sign_count=verified.sign_count,
        name=clean_name(name) or default_name(now), aaguid=verified.aaguid, transports=transports,
        backup_eligible=verified.credential_device_type.value == "multi_device",
        backed_up=verified.credential_backed_up, discoverable=_discoverable(credential_json), created_at=now,
    ):
        raise PasskeyRefused("duplicate")
    passkey = db.session.scalar(select(Passkey).where(Passkey.credential_id == verified.credential_id))
    db.session.expire(user, ["has_passkey"])
    return Added(passkey, first)


def _discoverable(credential_json: str) -> bool | None:
    """Whether the authenticator kept the credential itself (it can then sign in alone), as the
    browser's ``credProps`` extension reports it; None when the browser did not say. Only shown
    to the owner, never relied on: a sign-in alone is checked on its own."""
    try:
        answer = json.loads(credential_json).get("clientExtensionResults") or {}
        rk = (answer.get("credProps") or {}).get("rk")
    except (ValueError, AttributeError):
        return None
    return rk if isinstance(rk, bool) else None


def authenticate(credential_json: str, purpose: str, user: User | None, config, now: datetime,
                 password_confirmed: bool = False) -> Passkey:
    """Check an assertion; return the passkey that made it (its owner is ``passkey.user``).

    ``user`` is the account the answer must belong to (None for a sign-in alone, where the
    passkey says whose it is). A confirmation (REAUTH) by a key that did not verify its user is
    refused ("unverified") unless ``password_confirmed``. Leaves the transaction to the caller;
    a cloned passkey is marked in it before the refusal, so the caller commits that too.
    """
    rp = relying_party(config)
    try:
        credential = parse_authentication_credential_json(credential_json)
        challenge = parse_client_data_json(credential.response.client_data_json).challenge
    except (WebAuthnException, ValueError, TypeError, KeyError):
        raise PasskeyRefused("invalid") from None
    _check_challenge(challenge, purpose, user.id if user else None, config)
    passkey = db.session.scalar(select(Passkey).where(Passkey.credential_id == credential.raw_id))
    if passkey is None or (user is not None and passkey.user_id != user.id):
        raise PasskeyRefused("unknown")
    handle = credential.response.user_handle
    if handle is not None and not secrets.compare_digest(handle, passkey.user_handle):
        raise PasskeyRefused("unknown")
    if passkey.cloned_at is not None:  # refused since a copy showed itself (told once, then)
        raise PasskeyRefused("cloned_before", passkey)
    try:  # the counter is compared below, after the signature proves the authenticator answered
        verified = verify_authentication_response(
            credential=credential, expected_challenge=challenge, expected_rp_id=rp.id, expected_origin=rp.origin,
            credential_public_key=passkey.public_key, credential_current_sign_count=0,
            require_user_verification=purpose in NEEDS_USER_VERIFICATION)
    except (WebAuthnException, ValueError, TypeError, KeyError):
        raise PasskeyRefused("invalid") from None
    if purpose == REAUTH and not verified.user_verified and not password_confirmed:
        raise PasskeyRefused("unverified")
    _use_challenge(challenge, now)
    _advance_counter(passkey, verified.new_sign_count, now)
    passkey.backed_up = verified.credential_backed_up
    db.session.flush()
    return passkey


def _advance_counter(passkey: Passkey, count: int, now: datetime) -> None:
    """Move the signature counter forward in one statement; a counter that does not move
    (authenticators that keep none send 0 each time) marks the passkey as cloned."""
    if count == 0 and passkey.sign_count == 0:
        moved = 1
    else:
        moved = db.session.execute(update(Passkey).where(Passkey.id == passkey.id, Passkey.sign_count < count)
                                   .values(sign_count=count, last_used_at=now)).rowcount
    db.session.refresh(passkey)
    if not moved:
        passkey.cloned_at = now
        db.session.flush()
        raise PasskeyRefused("cloned", passkey)
    passkey.last_used_at = now


# --- the user's passkeys --------------------------------------------------------------------


def user_passkeys(user: User | None) -> list[Passkey]:
    if user is None:
        return []
    return list(db.session.scalars(select(Passkey).where(Passkey.user_id == user.id)
                                   .order_by(Passkey.created_at, Passkey.id)))


def find_passkey(user: User, passkey_id: int) -> Passkey | None:
    """One of the user's passkeys (another user's id is simply not found)."""
    return db.session.scalar(select(Passkey).where(Passkey.id == passkey_id, Passkey.user_id == user.id))


def clean_name(name: str | None) -> str:
    return " ".join((name or "").split())[:NAME_LENGTH]


def default_name(now: datetime) -> str:
    return f"Passkey {now:%Y-%m-%d}"


def rename(passkey: Passkey, name: str) -> bool:
    cleaned = clean_name(name)
    if not cleaned:
        return False
    passkey.name = cleaned
    db.session.flush()
    return True


def remove(user: User, passkey: Passkey) -> bool:
    """Remove one passkey; True when it was the last second factor (no app, no other passkey),
    so two-factor authentication is now off and its recovery codes are gone. Runs after any
    concurrent change of the user's second factors, so removing the last two at once still
    finds which one was last."""
    twofactor.lock_second_factors(user)
    db.session.execute(delete(Passkey).where(Passkey.id == passkey.id, Passkey.user_id == user.id))
    db.session.flush()
    db.session.expire(user, ["has_passkey"])
    return not user.has_2fa
