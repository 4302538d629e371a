"""Account services. Plain functions with explicit arguments: no request, no commit (flush only)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import joinedload

from app import throttle
from app.addresses import InvalidEmail, canonical_email, normalise_email  # noqa: F401 - re-exported
from app.auth.models import AccountToken, SessionEndReason, TokenPurpose, User, UserSession
from app.auth.passwords import hash_password, verify_password
from app.billing.models import CreditKind
from app.billing.services import add_credits
from app.email import external_url, queue_email, render_email
from app.extensions import db
from app.legal import services as legal
from app.legal.models import PolicyNotice
from app.organisations import services as organisations
from app.security import hash_token, new_token

TOKEN_LIFETIMES = {
    TokenPurpose.VERIFY_EMAIL: timedelta(hours=24),
    TokenPurpose.CHANGE_EMAIL: timedelta(hours=24),
    TokenPurpose.RESET_PASSWORD: timedelta(hours=1),
}

# Failed sign-ins are counted per address *and client*: an attacker's wrong passwords block the attacker's
# client for that address, not the owner's. The per-address ceiling across all clients slows guessing from
# many addresses; a password reset clears the address's counters (docs/configuration.md, "Sign-in throttling").
LOGIN_LIMIT_PER_CLIENT = "5 per 5 minutes"
LOGIN_LIMIT_PER_ACCOUNT = "100 per hour"
LOGIN_LIMIT_PER_IP = "30 per 5 minutes"
RESEND_LIMIT = "3 per hour"
RESET_LIMIT_PER_ADDRESS = "3 per hour"


def find_user_by_email(email: str) -> User | None:
    try:
        normalised = normalise_email(email)
    except InvalidEmail:
        return None
    return db.session.scalar(select(User).where(User.email == normalised))


def user_locale(user: User, config) -> str:
    return user.locale or config["BABEL_DEFAULT_LOCALE"]


def issue_token(user: User, purpose: TokenPurpose, now: datetime, new_email: str | None = None) -> str:
    """Create a single-use token; return the secret (only its hash is stored)."""
    secret = new_token()
    db.session.add(AccountToken(
        user=user, purpose=purpose, token_hash=hash_token(secret), new_email=new_email,
        created_at=now, expires_at=now + TOKEN_LIFETIMES[purpose],
    ))
    db.session.flush()
    return secret


def find_token(secret: str, purpose: TokenPurpose, now: datetime) -> AccountToken | None:
    """The unused, unexpired token of ``purpose`` matching ``secret``."""
    if not secret or len(secret) > 200:
        return None
    token = db.session.scalar(select(AccountToken).where(AccountToken.token_hash == hash_token(secret)))
    if token is None or token.purpose != purpose or token.used_at is not None or token.expires_at < now:
        return None
    return token


def use_token(token: AccountToken, now: datetime) -> bool:
    """Mark ``token`` used in one statement; False when a concurrent request used it first."""
    used = db.session.execute(update(AccountToken).where(AccountToken.id == token.id, AccountToken.used_at.is_(None))
                              .values(used_at=now)).rowcount
    db.session.expire(token, ["used_at"])
    return used == 1


# --- registration and verification ----------------------------------------------------------


@dataclass(frozen=True)
class Registration:
    user: User | None  # None when the address already had an account (its owner was e-mailed)


def register(email: str, password: str, nickname: str | None, locale: str, config, now: datetime) -> Registration:
    """Create an unverified account and e-mail a verification link.

    When the address already has an account, nothing is created; its owner is told by e-mail.
    Both paths hash the password, so they take the same time and look the same to the caller's
    visitor.
    """
    normalised = normalise_email(email)
    password_hash = hash_password(password)
    existing = db.session.scalar(select(User).where(User.email == normalised))
    if existing is not None:
        queue_email(existing.email, "register_existing", user_locale(existing, config),
                    login_url=external_url("auth.login"), reset_url=external_url("auth.reset_request"))
        return Registration(user=None)
    user = User(
        email=normalised, password_hash=password_hash, nickname=clean_nickname(nickname), locale=locale,
        created_at=now, age_confirmed_at=now, password_changed_at=now,
        accepted_privacy_version=legal.current_version_label("privacy", now.date(), config["PRIVACY_POLICY_VERSION"]),
        accepted_terms_version=legal.current_version_label("terms", now.date(), config["TERMS_VERSION"]),
    )
    db.session.add(user)
    db.session.flush()
    organisations.create_personal(user, now)
    send_verification(user, config, now)
    return Registration(user=user)


def send_verification(user: User, config, now: datetime) -> None:
    secret = issue_token(user, TokenPurpose.VERIFY_EMAIL, now)
    queue_email(user.email, "verify_email", user_locale(user, config),
                verify_url=external_url("auth.verify_email", token=secret), hours=24)


def resend_verification(user: User, config, now: datetime) -> throttle.Verdict:
    """Send a fresh link unless the user asked too often; the verdict says which."""
    verdict = throttle.hit(RESEND_LIMIT, throttle.throttle_key("verify-resend", str(user.id)))
    if verdict.allowed and not user.is_verified:
        send_verification(user, config, now)
    return verdict


def confirm_email_token(secret: str, config, now: datetime) -> tuple[User | None, bool]:
    """Use a verification or e-mail-change link.

    Returns (user, changed): the user, or None when the link is not valid, and whether the
    address was changed (rather than confirmed).
    """
    token = find_token(secret, TokenPurpose.VERIFY_EMAIL, now) or find_token(secret, TokenPurpose.CHANGE_EMAIL, now)
    if token is None or not use_token(token, now):
        return None, False
    user = token.user
    if token.purpose == TokenPurpose.CHANGE_EMAIL:
        if db.session.scalar(select(User.id).where(User.email == token.new_email, User.id != user.id)):
            return None, False
        old_email = user.email
        user.email = token.new_email
        queue_email(old_email, "email_changed", user_locale(user, config),
                    new_email=user.email, support_email=config["SUPPORT_EMAIL"])
    first_confirmation = not user.is_verified
    if token.purpose == TokenPurpose.CHANGE_EMAIL or first_confirmation:
        user.email_verified_at = now
    if first_confirmation and config["PRICING"].signup_credits:
        own = organisations.personal_organisation(user.id)
        add_credits(own, config["PRICING"].signup_credits, CreditKind.SIGNUP_BONUS, now, reason="welcome credits")
    db.session.flush()
    return user, token.purpose == TokenPurpose.CHANGE_EMAIL


# --- sign-in and sessions -------------------------------------------------------------------


def _login_counters(email: str, ip: str | None) -> list[tuple[str, str]]:
    address = canonical_email(email)
    return [(LOGIN_LIMIT_PER_CLIENT, throttle.throttle_key("login-client", address, ip or "-")),
            (LOGIN_LIMIT_PER_ACCOUNT, throttle.throttle_key("login-account", address)),
            (LOGIN_LIMIT_PER_IP, throttle.throttle_key("login-ip", ip or "-"))]


def login_verdict(email: str, ip: str | None) -> throttle.Verdict:
    """Whether another sign-in attempt is allowed for this address from this client."""
    verdicts = [throttle.check(limit, key) for limit, key in _login_counters(email, ip)]
    blocked = [v for v in verdicts if not v.allowed]
    return max(blocked, key=lambda v: v.retry_after) if blocked else throttle.Verdict(True, 0)


def record_login_failure(email: str, ip: str | None) -> None:
    for limit, key in _login_counters(email, ip):
        throttle.hit(limit, key)


def clear_login_failures(email: str, ip: str | None = None) -> None:
    """After a password reset: the owner proved the inbox, so the address's lockout ends (and
    the lockout of the client that reset it)."""
    address = canonical_email(email)
    throttle.clear(LOGIN_LIMIT_PER_ACCOUNT, throttle.throttle_key("login-account", address))
    if ip is not None:
        throttle.clear(LOGIN_LIMIT_PER_CLIENT, throttle.throttle_key("login-client", address, ip))


def check_password(email: str, password: str) -> tuple[User | None, bool]:
    """The user whose address and password match (or None), and whether their hash is outdated."""
    user = find_user_by_email(email)
    matches, needs_rehash = verify_password(user.password_hash if user else None, password)
    return (user, needs_rehash) if matches else (None, False)


def rehash_password(user: User, password: str) -> None:
    """Store ``password`` (just verified) under the current hashing parameters."""
    user.password_hash = hash_password(password)


def start_session(user: User, ip: str | None, user_agent: str | None, remember: bool, config,
                  now: datetime) -> str:
    """Record a new sign-in; return the session secret for the browser.

    Signing in counts as a recent authentication for the sensitive actions that ask for one.
    """
    secret = new_token()
    lifetime = timedelta(days=config["REMEMBER_DAYS"]) if remember else timedelta(hours=12)
    db.session.add(UserSession(
        user=user, token_hash=hash_token(secret), created_at=now, last_seen_at=now, expires_at=now + lifetime,
        remember=remember, ip=ip, user_agent=(user_agent or "")[:255] or None, reauthenticated_at=now,
    ))
    user.last_login_at = now
    db.session.flush()
    return secret


@dataclass(frozen=True)
class LoadedSession:
    """What the user loader needs: the active session row (None when there is none), whether the
    row changed (committed with the request's work), and whether its user has policy notices to see."""

    row: UserSession | None
    changed: bool = False
    has_notices: bool = False


def load_session(secret: str, config, now: datetime) -> LoadedSession:
    """The active session for ``secret``, ending it instead when it is idle or expired. The row
    changes at most about once a minute (the coarse last-seen time), so most requests commit
    nothing and keep their loaded objects."""
    if not secret:
        return LoadedSession(None)
    # One query: the session row, its user and roles, and whether a policy notice waits.
    waiting = select(PolicyNotice.id).where(PolicyNotice.user_id == UserSession.user_id,
                                            PolicyNotice.viewed_at.is_(None),
                                            PolicyNotice.acknowledged_at.is_(None)).exists()
    found = db.session.execute(
        select(UserSession, waiting).where(UserSession.token_hash == hash_token(secret))
        .options(joinedload(UserSession.user).joinedload(User.roles))).unique().first()
    if found is None or found[0].ended_at is not None:
        return LoadedSession(None)
    row, has_notices = found
    idle_minutes = config["STAFF_IDLE_MINUTES"] if row.user.is_staff else config["SESSION_IDLE_MINUTES"]
    idle_limit = timedelta(minutes=idle_minutes)
    if now >= row.expires_at:
        end_session(row, SessionEndReason.EXPIRED, now)
        return LoadedSession(None, changed=True)
    # Staff sessions always idle out, "keep me signed in" or not.
    if (not row.remember or row.user.is_staff) and now - row.last_seen_at > idle_limit:
        end_session(row, SessionEndReason.IDLE, now)
        return LoadedSession(None, changed=True)
    changed = now - row.last_seen_at > timedelta(minutes=1)
    if changed:
        row.last_seen_at = now  # coarse on purpose: one write a minute, not one per request
    return LoadedSession(row, changed, bool(has_notices))


def end_session(row: UserSession, reason: SessionEndReason, now: datetime) -> None:
    if row.ended_at is None:
        row.ended_at = now
        row.end_reason = reason
    db.session.flush()


def end_sessions(user: User, reason: SessionEndReason, now: datetime, keep_id: int | None = None) -> int:
    """End every active session of ``user`` except ``keep_id``; return how many ended."""
    query = update(UserSession).where(UserSession.user_id == user.id, UserSession.ended_at.is_(None))
    if keep_id is not None:
        query = query.where(UserSession.id != keep_id)
    result = db.session.execute(query.values(ended_at=now, end_reason=reason))
    return result.rowcount


def active_sessions(user: User) -> list[UserSession]:
    return list(db.session.scalars(
        select(UserSession).where(UserSession.user_id == user.id, UserSession.ended_at.is_(None))
        .order_by(UserSession.last_seen_at.desc())
    ))


# --- re-authentication ----------------------------------------------------------------------


def mark_reauthenticated(row: UserSession | None, now: datetime) -> None:
    if row is not None:
        row.reauthenticated_at = now
        db.session.flush()


def recently_authenticated(row: UserSession | None, config, now: datetime) -> bool:
    """True when the password (and second factor) were entered in this session lately."""
    if row is None or row.reauthenticated_at is None:
        return False
    return now - row.reauthenticated_at <= timedelta(minutes=config["REAUTH_MINUTES"])


# --- passwords and profile ----------------------------------------------------------------


def request_password_reset(email: str, config, now: datetime) -> None:
    """E-mail a reset link when the address has an account; do nothing visible otherwise.

    An unknown address costs the same work short of the insert (the throttle, a token, the mail
    rendered and dropped), so the answer's timing does not tell whether the account exists.
    """
    user = find_user_by_email(email)
    allowed = throttle.hit(RESET_LIMIT_PER_ADDRESS, throttle.throttle_key("reset", canonical_email(email))).allowed
    if user is None:
        render_email("reset_password", config["BABEL_DEFAULT_LOCALE"], minutes=60,
                     reset_url=external_url("auth.reset_password", token=new_token()))
        return
    if not allowed:
        return
    secret = issue_token(user, TokenPurpose.RESET_PASSWORD, now)
    queue_email(user.email, "reset_password", user_locale(user, config),
                reset_url=external_url("auth.reset_password", token=secret), minutes=60)


def reset_password(secret: str, new_password: str, config, now: datetime, ip: str | None = None) -> User | None:
    """Set a new password from a reset link; end every session. None when the link is not valid."""
    token = find_token(secret, TokenPurpose.RESET_PASSWORD, now)
    if token is None or not use_token(token, now):
        return None
    user = token.user
    # Any other reset link still in an inbox stops working: the newest use wins, older ones die.
    db.session.execute(update(AccountToken).where(
        AccountToken.user_id == user.id, AccountToken.purpose == TokenPurpose.RESET_PASSWORD,
        AccountToken.used_at.is_(None)).values(used_at=now))
    _set_password(user, new_password, config, now)
    end_sessions(user, SessionEndReason.PASSWORD_RESET, now)
    clear_login_failures(user.email, ip)
    if not user.is_verified:
        user.email_verified_at = now  # the link reached the inbox: the address is proven
    return user


def change_password(user: User, current: str, new_password: str, keep_session_id: int | None, config,
                    now: datetime) -> bool:
    """Change the password when ``current`` is right; end the user's other sessions."""
    matches, _ = verify_password(user.password_hash, current)
    if not matches:
        return False
    _set_password(user, new_password, config, now)
    end_sessions(user, SessionEndReason.PASSWORD_CHANGED, now, keep_id=keep_session_id)
    return True


def _set_password(user: User, new_password: str, config, now: datetime) -> None:
    user.password_hash = hash_password(new_password)
    user.password_changed_at = now
    queue_email(user.email, "password_changed", user_locale(user, config),
                reset_url=external_url("auth.reset_request"), support_email=config["SUPPORT_EMAIL"])
    db.session.flush()


def request_email_change(user: User, password: str, new_email: str, config, now: datetime) -> bool:
    """E-mail a confirmation link to the new address when the password is right.

    When the new address belongs to another account, nothing is sent to it and the answer is
    the same, so the form cannot be used to find out who has an account.
    """
    matches, _ = verify_password(user.password_hash, password)
    if not matches:
        return False
    normalised = normalise_email(new_email)
    if normalised != user.email and not db.session.scalar(select(User.id).where(User.email == normalised)):
        secret = issue_token(user, TokenPurpose.CHANGE_EMAIL, now, new_email=normalised)
        queue_email(normalised, "confirm_new_email", user_locale(user, config),
                    confirm_url=external_url("auth.verify_email", token=secret), hours=24)
    return True


def clean_nickname(nickname: str | None) -> str | None:
    cleaned = re.sub(r"\s+", " ", nickname or "").strip()
    return cleaned[:40] or None


def update_profile(user: User, nickname: str | None, locale: str | None) -> None:
    user.nickname = clean_nickname(nickname)
    save_locale(user, locale)


def save_locale(user: User, locale: str | None) -> None:
    """The language of the user's pages and e-mail (None: follow the browser)."""
    user.locale = locale or None
    db.session.flush()


def can_reopen(user: User, config, now: datetime) -> bool:
    return user.closed_at is not None and now - user.closed_at <= timedelta(days=config["ACCOUNT_GRACE_DAYS"])


def reopen_account(user: User) -> None:
    """Reopen a closed account and its personal organisation (its API keys stay revoked)."""
    user.closed_at = None
    organisations.set_personal_closed(user.id, None)
    db.session.flush()
