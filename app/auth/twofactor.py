"""Two-factor authentication services: TOTP (RFC 6238) and single-use recovery codes.

No request, no commit. The TOTP secret is stored encrypted (EncryptedText); recovery codes are
stored as SHA-256 hashes. A TOTP code is accepted once: the time step it belongs to is recorded
and no code of that step or an earlier one works again.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

import pyotp
import segno
from sqlalchemy import delete, or_, select, update

from app.auth.models import RecoveryCode, User
from app.database import lock_row
from app.extensions import db
from app.security import hash_token

RECOVERY_CODE_COUNT = 10
RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i
QR_QUIET_ZONE = 4  # modules of light margin around the code (ISO/IEC 18004)
QR_SCALE = 5  # pixels per module at full size
VALID_WINDOW = 1  # accept the previous and next 30-second step, for clock drift


def begin_setup(user: User) -> str:
    """Give ``user`` a new, not yet active secret (replacing an unconfirmed one); return it."""
    if user.has_totp:
        raise ValueError("the authenticator app is already on")
    user.totp_secret = pyotp.random_base32()
    user.totp_last_counter = None
    db.session.flush()
    return user.totp_secret


def provisioning_uri(user: User, issuer: str) -> str:
    return pyotp.TOTP(user.totp_secret).provisioning_uri(name=user.email, issuer_name=issuer)


def qr_svg(uri: str) -> str:
    """The provisioning URI as an inline SVG QR code, drawn here (no third-party service).

    The quiet zone is inside the drawing (4 modules, as ISO/IEC 18004 asks), white in both colour
    schemes, and the ``viewBox`` lets the page scale it down whole on a narrow screen instead of
    cutting off modules; no CSS padding or border may eat into it.
    """
    qr = segno.make(uri, error="m")
    size = qr.symbol_size(scale=QR_SCALE, border=QR_QUIET_ZONE)[0]
    svg = qr.svg_inline(scale=1, border=QR_QUIET_ZONE, omitsize=True, dark="#000", light="#fff", title="QR code")
    return svg.replace("<svg ", f'<svg width="{size}" height="{size}" role="img" ', 1)


def _matching_counter(secret: str, code: str, now: datetime) -> int | None:
    code = "".join(ch for ch in code if ch.isdigit())
    if len(code) != 6:
        return None
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now if now.tzinfo else now.replace(tzinfo=UTC))  # our naive times are UTC
    for counter in range(current - VALID_WINDOW, current + VALID_WINDOW + 1):
        if secrets.compare_digest(totp.generate_otp(counter), code):
            return counter
    return None


def check_totp(user: User, code: str, now: datetime) -> bool:
    """True when ``code`` is a fresh valid TOTP code; records its time step so it works once."""
    if not user.totp_secret:
        return False
    counter = _matching_counter(user.totp_secret, code, now)
    if counter is None:
        return False
    # Compare-and-set in one statement: of concurrent sign-ins with the same code, one wins.
    db.session.flush()
    claimed = db.session.execute(
        update(User).where(User.id == user.id, or_(User.totp_last_counter.is_(None), User.totp_last_counter < counter))
        .values(totp_last_counter=counter)
    ).rowcount
    db.session.expire(user, ["totp_last_counter"])
    return claimed == 1


def lock_second_factors(user: User) -> None:
    """Serialise changes to the user's second factors until the transaction ends, and reload
    what decides them (app on, any passkey), so concurrent requests see each other's work."""
    lock_row(User.__table__, user.id)
    db.session.refresh(user)


def confirm_setup(user: User, code: str, now: datetime) -> list[str] | None:
    """Turn the app on when ``code`` matches the pending secret. Returns None when it does not;
    else the recovery codes that come with it: 10 new ones (shown once) when the app is the
    account's first second factor, an empty list when a passkey is on already and its recovery
    codes stay valid (codes come with the first second factor and go with the last)."""
    lock_second_factors(user)
    if user.has_totp or not check_totp(user, code, now):
        return None
    first = not user.has_2fa
    user.totp_enabled_at = now
    return new_recovery_codes(user, now) if first else []


def new_recovery_codes(user: User, now: datetime) -> list[str]:
    """Replace the user's recovery codes with 10 fresh ones; return them (shown once)."""
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = ["-".join("".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(4)) for _ in range(4))
             for _ in range(RECOVERY_CODE_COUNT)]
    db.session.add_all(RecoveryCode(user_id=user.id, code_hash=hash_token(code), created_at=now) for code in codes)
    db.session.flush()
    return codes


def use_recovery_code(user: User, code: str, now: datetime) -> bool:
    """True when ``code`` is one of the user's unused recovery codes; it is then used up."""
    normalised = code.strip().lower().replace(" ", "")
    if len(normalised) == 16 and "-" not in normalised:
        normalised = "-".join(normalised[i:i + 4] for i in range(0, 16, 4))
    used = db.session.execute(update(RecoveryCode).where(
        RecoveryCode.user_id == user.id, RecoveryCode.code_hash == hash_token(normalised),
        RecoveryCode.used_at.is_(None)).values(used_at=now)).rowcount
    return used == 1  # one statement: a code used concurrently twice is accepted once


def remaining_recovery_codes(user: User) -> int:
    return len(db.session.scalars(select(RecoveryCode.id).where(
        RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))).all())


def verify_second_factor(user: User, code: str, now: datetime) -> str | None:
    """``"totp"`` or ``"recovery"`` when ``code`` is accepted, else None."""
    if check_totp(user, code, now):
        return "totp"
    if use_recovery_code(user, code, now):
        return "recovery"
    return None


def disable(user: User) -> None:
    """Remove the authenticator app. The recovery codes go with the last second factor: they
    stay while a passkey is left (seen after any concurrent change of the second factors)."""
    lock_second_factors(user)
    user.totp_secret = None
    user.totp_enabled_at = None
    user.totp_last_counter = None
    if not user.has_passkey:
        remove_recovery_codes(user)
    db.session.flush()


def remove_recovery_codes(user: User) -> None:
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
