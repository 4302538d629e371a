"""Users, their sign-in sessions and the one-time tokens e-mailed to them."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from flask_login import UserMixin
from sqlalchemy import ForeignKey, and_, exists, or_
from sqlalchemy.orm import Mapped, column_property, mapped_column, relationship

from app.crypto import EncryptedText
from app.extensions import db
from app.retention import PERSONAL, Rule, ip_truncation_rule, register
from app.timeutil import utcnow


class SecurityEventTag(StrEnum):
    """What happened to an account's security (a ``SecurityEvent``'s tag), shown to its owner."""

    LOGIN_SUCCESS = "auth:login:success"
    LOGIN_FAILURE = "auth:login:failure"
    LOGOUT = "auth:logout"
    PASSWORD_CHANGE = "auth:password:change"  # noqa: S105 - an event tag, not a password
    PASSWORD_RESET = "auth:password:reset"  # noqa: S105
    EMAIL_CHANGE = "auth:email:change"
    TWO_FACTOR_ENABLE = "auth:2fa:enable"
    TWO_FACTOR_DISABLE = "auth:2fa:disable"
    RECOVERY_CODE_USED = "auth:2fa:recovery_used"
    RECOVERY_CODES_NEW = "auth:2fa:recovery_codes"
    PASSKEY_ADD = "auth:passkey:add"
    PASSKEY_REMOVE = "auth:passkey:remove"
    PASSKEY_CLONED = "auth:passkey:cloned"
    SESSION_END = "auth:session:end"
    API_KEY_CREATE = "api:key:create"
    API_KEY_REVOKE = "api:key:revoke"


class SessionEndReason(StrEnum):
    """Why a sign-in session ended (``UserSession.end_reason``)."""

    LOGOUT = "logout"
    EXPIRED = "expired"
    IDLE = "idle"
    ENDED_BY_USER = "ended_by_user"
    ENDED_BY_STAFF = "ended_by_staff"
    PASSWORD_RESET = "password_reset"  # noqa: S105 - a reason, not a password
    PASSWORD_CHANGED = "password_changed"  # noqa: S105
    TWO_FACTOR_ENABLED = "2fa_enabled"
    SUSPENDED = "suspended"
    MINOR = "minor"
    ACCOUNT_CLOSED = "account_closed"
    EMERGENCY = "emergency"  # every account signed out by staff


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Stored normalised and lower-cased, so uniqueness is case-insensitive on every database.
    email: Mapped[str] = mapped_column(db.String(254), unique=True, info=PERSONAL)
    password_hash: Mapped[str] = mapped_column(db.String(255))
    nickname: Mapped[str | None] = mapped_column(db.String(40), info=PERSONAL)
    locale: Mapped[str | None] = mapped_column(db.String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    email_verified_at: Mapped[datetime | None]
    age_confirmed_at: Mapped[datetime]
    accepted_privacy_version: Mapped[str] = mapped_column(db.String(32))
    accepted_terms_version: Mapped[str] = mapped_column(db.String(32))
    password_changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]
    # Two-factor authentication: the TOTP secret is encrypted; it is "on" once confirmed.
    totp_secret: Mapped[str | None] = mapped_column(EncryptedText)
    totp_enabled_at: Mapped[datetime | None]
    totp_last_counter: Mapped[int | None]  # the newest time step used: no code works twice
    # Closure: reopened by signing in within ACCOUNT_GRACE_DAYS; erased after ACCOUNT_PURGE_DAYS.
    closed_at: Mapped[datetime | None] = mapped_column(index=True)
    erased_at: Mapped[datetime | None]
    # Suspended by staff: no sign-in, no API calls, until unsuspended.
    suspended_at: Mapped[datetime | None]
    # Staff learned the account belongs to a minor: no sign-in, no API calls, erased within 7 days.
    minor_flagged_at: Mapped[datetime | None]

    roles: Mapped[list[UserRole]] = relationship(cascade="all, delete-orphan", passive_deletes=True,
                                                 lazy="selectin")

    sessions: Mapped[list[UserSession]] = relationship(
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True
    )

    @property
    def sign_in_blocked(self) -> bool:
        """Suspended, or flagged as a minor's: neither sessions nor keys work."""
        return self.suspended_at is not None or self.minor_flagged_at is not None

    @property
    def is_verified(self) -> bool:
        return self.email_verified_at is not None

    @property
    def display_name(self) -> str:
        return self.nickname or self.email

    @property
    def has_totp(self) -> bool:
        return self.totp_enabled_at is not None

    @property
    def has_2fa(self) -> bool:
        """A second factor is on: an authenticator app, a passkey, or both."""
        return self.totp_enabled_at is not None or bool(self.has_passkey)

    @property
    def role_names(self) -> set[str]:
        return {r.role for r in self.roles}

    @property
    def is_staff(self) -> bool:
        return bool(self.role_names)

    def has_role(self, *roles: str) -> bool:
        return bool(self.role_names & set(roles))

    def get_id(self) -> str:
        return str(self.id)


class UserSession(db.Model):
    """One sign-in. The browser holds a random id; we keep only its SHA-256."""

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(db.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    remember: Mapped[bool] = mapped_column(default=False)
    ip: Mapped[str | None] = mapped_column(db.String(45), info=PERSONAL)
    ip_truncated: Mapped[bool] = mapped_column(default=False)
    user_agent: Mapped[str | None] = mapped_column(db.String(255), info=PERSONAL)
    ended_at: Mapped[datetime | None] = mapped_column(index=True)
    end_reason: Mapped[str | None] = mapped_column(db.String(32))  # a SessionEndReason
    # When the password (and second factor) were last entered in this session.
    reauthenticated_at: Mapped[datetime | None]

    user: Mapped[User] = relationship(back_populates="sessions")

    @property
    def is_active(self) -> bool:
        return self.ended_at is None


class TokenPurpose(StrEnum):
    """What an e-mailed one-time token is for (``AccountToken.purpose``)."""

    VERIFY_EMAIL = "verify_email"
    RESET_PASSWORD = "reset_password"  # noqa: S105 - a token purpose, not a password
    CHANGE_EMAIL = "change_email"


class AccountToken(db.Model):
    """A single-use token sent by e-mail: verify an address, reset a password, change e-mail."""

    __tablename__ = "account_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[str] = mapped_column(db.String(20))  # a TokenPurpose
    token_hash: Mapped[str] = mapped_column(db.String(64), unique=True)
    new_email: Mapped[str | None] = mapped_column(db.String(254), info=PERSONAL)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]

    user: Mapped[User] = relationship()


STAFF_ROLES = ("support", "privacy", "billing", "admin")


class UserRole(db.Model):
    """A staff role held by a user. Customers hold none."""

    __tablename__ = "user_roles"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(db.String(20), primary_key=True)
    granted_at: Mapped[datetime] = mapped_column(default=utcnow)


class RecoveryCode(db.Model):
    """A single-use two-factor recovery code, stored as its SHA-256 (the code has 80 random bits)."""

    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(db.String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    used_at: Mapped[datetime | None]


class Passkey(db.Model):
    """A WebAuthn credential (a passkey) of a user: the public key, never a secret. It signs a
    passwordless sign-in, serves as the second factor, or confirms a sensitive action."""

    __tablename__ = "passkeys"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    credential_id: Mapped[bytes] = mapped_column(db.LargeBinary(1023), unique=True)
    public_key: Mapped[bytes] = mapped_column(db.LargeBinary)
    # The account's handle the authenticator keeps (random, the same for all of a user's passkeys).
    user_handle: Mapped[bytes] = mapped_column(db.LargeBinary(64))
    sign_count: Mapped[int] = mapped_column(default=0)
    name: Mapped[str] = mapped_column(db.String(60), info=PERSONAL)
    aaguid: Mapped[str | None] = mapped_column(db.String(36))  # the authenticator's model
    transports: Mapped[str | None] = mapped_column(db.String(100))
    backup_eligible: Mapped[bool] = mapped_column(default=False)  # a synced passkey (multi-device)
    backed_up: Mapped[bool] = mapped_column(default=False)
    # The authenticator keeps it (a discoverable credential), so it can sign in alone; False for a
    # security key that only serves as the second factor; None when the browser did not say.
    discoverable: Mapped[bool | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    # Its signature counter went backwards: a copy of the authenticator exists; refused from then on.
    cloned_at: Mapped[datetime | None]

    user: Mapped[User] = relationship()


class UsedPasskeyChallenge(db.Model):
    """A passkey challenge that has been answered: its hash (unique), so the same answer works once."""

    __tablename__ = "passkey_challenges_used"

    id: Mapped[int] = mapped_column(primary_key=True)
    challenge_hash: Mapped[str] = mapped_column(db.String(64), unique=True)
    expires_at: Mapped[datetime] = mapped_column(index=True)


# Whether the user has a passkey, loaded with the user in the same statement (no second query).
User.has_passkey = column_property(exists().where(Passkey.user_id == User.id))


class SecurityEvent(db.Model):
    """Something that happened to an account's security, shown to its owner for 90 days."""

    __tablename__ = "security_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    tag: Mapped[str] = mapped_column(db.String(40))  # a SecurityEventTag
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    ip: Mapped[str | None] = mapped_column(db.String(45), info=PERSONAL)
    user_agent: Mapped[str | None] = mapped_column(db.String(255), info=PERSONAL)


register(Rule(
    name="users.unverified",
    model=User,
    action="delete",
    days_setting="UNVERIFIED_ACCOUNT_DAYS",
    default_days=30,
    description="Accounts whose e-mail address was never confirmed are deleted N days after sign-up.",
    selects=lambda cutoff: and_(User.email_verified_at.is_(None), User.created_at < cutoff),
))
register(Rule(
    name="users.active",
    model=User,
    action="keep",
    days_setting="ACCOUNT_PURGE_DAYS",
    default_days=30,
    description="Account data is kept while the account is open; after closure it is erased.",
    legal_basis="contract (GDPR Art. 6(1)(b)) while the account is open",
))
register(Rule(
    name="user_sessions.ended",
    model=UserSession,
    action="delete",
    days_setting="SESSION_RETENTION_DAYS",
    default_days=30,
    description="Sign-in sessions are deleted N days after they ended or expired.",
    selects=lambda cutoff: or_(
        UserSession.ended_at < cutoff,
        UserSession.expires_at < cutoff,
        and_(UserSession.remember.is_(False), UserSession.last_seen_at < cutoff),
    ),
))
register(ip_truncation_rule(
    "user_sessions.ip", UserSession, "SESSION_IP_DAYS",
    "The IP address of a sign-in is cut to its network (IPv4 /24, IPv6 /48) after N days.",
))
register(Rule(
    name="security_events.expired",
    model=SecurityEvent,
    action="delete",
    days_setting="SECURITY_EVENT_DAYS",
    default_days=90,
    description="Security activity (sign-ins, password and 2FA changes) is deleted after N days.",
    selects=lambda cutoff: SecurityEvent.created_at < cutoff,
))
register(Rule(
    name="account_tokens.expired",
    model=AccountToken,
    action="delete",
    days_setting="ACCOUNT_TOKEN_RETENTION_DAYS",
    default_days=7,
    description="E-mailed one-time tokens are deleted N days after they expire.",
    selects=lambda cutoff: AccountToken.expires_at < cutoff,
))
register(Rule(
    name="passkey_challenges_used.expired",
    model=UsedPasskeyChallenge,
    action="delete",
    days_setting="ACCOUNT_TOKEN_RETENTION_DAYS",
    default_days=7,
    description="Answered passkey challenges (kept only to refuse a replay) are deleted N days after they expire.",
    selects=lambda cutoff: UsedPasskeyChallenge.expires_at < cutoff,
))
register(Rule(
    name="passkeys.active",
    model=Passkey,
    action="keep",
    days_setting="ACCOUNT_PURGE_DAYS",
    default_days=30,
    description="Passkeys (public keys and their names) are kept until their owner removes them or the account "
                "is erased.",
    legal_basis="contract (GDPR Art. 6(1)(b)): signing in to the account",
))
