"""Security activity: the events recorded for an account (with their labels), new-device and
second-factor notices, and a short description of a browser."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from app.addresses import InvalidEmail, canonical_email, normalise_email  # noqa: F401 - re-exported
from app.auth import twofactor
from app.auth.models import SecurityEvent, SecurityEventTag, User
from app.auth.services import find_user_by_email, user_locale
from app.email import external_url, queue_email
from app.extensions import db


@dataclass(frozen=True)
class Client:
    """Where a request came from, as recorded in security events."""

    ip: str | None
    user_agent: str | None


def record_event(user: User, tag: SecurityEventTag, client: Client, now: datetime) -> SecurityEvent:
    """Append a security event (``SecurityEventTag.LOGIN_SUCCESS`` ...) for ``user``."""
    event = SecurityEvent(user_id=user.id, tag=tag, created_at=now, ip=client.ip,
                          user_agent=(client.user_agent or "")[:255] or None)
    db.session.add(event)
    db.session.flush()
    return event


def record_failed_login(email: str, client: Client, now: datetime) -> None:
    """Record a failed sign-in on the account it targeted, when there is one."""
    user = find_user_by_email(email)
    if user is not None:
        record_event(user, SecurityEventTag.LOGIN_FAILURE, client, now)


def recent_events(user: User, config, now: datetime) -> list[SecurityEvent]:
    since = now - timedelta(days=config["SECURITY_EVENT_DAYS"])
    return list(db.session.scalars(
        select(SecurityEvent).where(SecurityEvent.user_id == user.id, SecurityEvent.created_at >= since)
        .order_by(SecurityEvent.created_at.desc(), SecurityEvent.id.desc()).limit(200)
    ))


def is_new_device(user: User, client: Client, config, now: datetime) -> bool:
    """True when no earlier sign-in of ``user`` (within the activity period) used this kind of device.

    The very first sign-in of an account is not "new": there is nothing to compare with.
    """
    since = now - timedelta(days=config["SECURITY_EVENT_DAYS"])
    agents = db.session.scalars(select(SecurityEvent.user_agent).where(
        SecurityEvent.user_id == user.id, SecurityEvent.tag == SecurityEventTag.LOGIN_SUCCESS,
        SecurityEvent.created_at >= since)).all()
    if not agents:
        return False
    device = describe_user_agent(client.user_agent)
    return all(describe_user_agent(agent) != device for agent in agents)


def notify_new_device(user: User, client: Client, config, now: datetime) -> None:
    queue_email(user.email, "new_device_sign_in", user_locale(user, config),
                device=describe_user_agent(client.user_agent), ip=client.ip or "?",
                when=now.strftime("%Y-%m-%d %H:%M UTC"), security_url=external_url("account.show_security"),
                reset_url=external_url("auth.reset_request"))


def notify_two_factor_changed(user: User, enabled: bool, config, change: str | None = None) -> None:
    """Tell the account a factor changed (turned on, off, or new recovery codes), with the way to
    secure it if it was not them (ASVS 5.0: notify on authentication factor changes)."""
    queue_email(user.email, "two_factor_changed", user_locale(user, config), enabled=enabled,
                change=change or ("on" if enabled else "off"), security_url=external_url("account.show_security"),
                reset_url=external_url("auth.reset_request"), support_email=config["SUPPORT_EMAIL"])


def notify_passkey_changed(user: User, name: str, added: bool, config) -> None:
    """Tell the account a passkey was added or removed (ASVS 5.0: notify on factor changes)."""
    queue_email(user.email, "passkey_changed", user_locale(user, config), added=added, name=name,
                two_factor_off=not user.has_2fa, security_url=external_url("account.show_security"),
                reset_url=external_url("auth.reset_request"), support_email=config["SUPPORT_EMAIL"])


def notify_passkey_cloned(user: User, name: str, config) -> None:
    """A passkey's counter went backwards: a copy of it exists. It is refused from now on."""
    queue_email(user.email, "passkey_cloned", user_locale(user, config), name=name,
                security_url=external_url("account.show_passkeys"), reset_url=external_url("auth.reset_request"),
                support_email=config["SUPPORT_EMAIL"])


def check_second_factor(user: User, code: str, client: Client, config, now: datetime) -> bool:
    """Accept a fresh TOTP code or an unused recovery code.

    A recovery code that is used up is recorded as a security event and its owner is told.
    """
    method = twofactor.verify_second_factor(user, code, now)
    if method == "recovery":
        record_event(user, SecurityEventTag.RECOVERY_CODE_USED, client, now)
        notify_recovery_code_used(user, twofactor.remaining_recovery_codes(user), config)
    return method is not None


def notify_recovery_code_used(user: User, remaining: int, config) -> None:
    queue_email(user.email, "recovery_code_used", user_locale(user, config), remaining=remaining,
                security_url=external_url("account.show_security"), support_email=config["SUPPORT_EMAIL"])


_BROWSERS = (("Edg/", "Edge"), ("OPR/", "Opera"), ("Firefox/", "Firefox"), ("Chrome/", "Chrome"),
             ("Chromium/", "Chromium"), ("Safari/", "Safari"), ("curl/", "curl"))
_SYSTEMS = (("Android", "Android"), ("iPhone", "iOS"), ("iPad", "iPadOS"), ("Windows", "Windows"),
            ("Mac OS X", "macOS"), ("CrOS", "ChromeOS"), ("Linux", "Linux"))


def describe_user_agent(user_agent: str | None) -> str:
    """A short description such as "Firefox on Linux" (unknown parts stay out)."""
    ua = user_agent or ""
    browser = next((name for marker, name in _BROWSERS if marker in ua), None)
    system = next((name for marker, name in _SYSTEMS if marker in ua), None)
    if browser and system:
        return f"{browser} · {system}"
    return browser or system or "?"
