"""PIPL (the Personal Information Protection Law of China) for customers who use the site in
Chinese: the separate consent to the transfer of their data abroad with what Art. 39 says they
must be told (the overseas recipient and how to reach it, the purpose, the categories, how to
exercise their rights), a guardian's consent for a child under 14 where the minimum age lets one
register (Art. 31), and each consent stored as its own event. No request, no commit."""

from __future__ import annotations

import hashlib
from datetime import datetime

from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select

from app.consent.models import SeparateConsent, SeparateConsentKind
from app.extensions import db

GUARDIAN_AGE = 14
DEFAULT_LOCATION = "the European Union"  # DATA_LOCATION's default, shown translated


def applies(locale: str | None) -> bool:
    return (locale or "").startswith("zh")


def needs_guardian_question(config) -> bool:
    """Only when the minimum age lets a child under 14 register; otherwise they are refused."""
    return config["MIN_AGE"] < GUARDIAN_AGE


def transfer_facts(config) -> dict:
    """What Art. 39 says the person must be told before their data goes abroad."""
    return {
        "recipient": config.get("SELLER_NAME") or config["SITE_NAME"],
        "contact": config["SUPPORT_EMAIL"],
        "address": (config.get("SELLER_ADDRESS") or "").replace("\n", ", ") or None,
        "location": _("the European Union") if config["DATA_LOCATION"] == DEFAULT_LOCATION else config["DATA_LOCATION"],
        "purpose": _("to provide your account, the API, billing and support"),
        "categories": _("account information (e-mail address, password hash, nickname), usage and device "
                        "information (IP addresses, browser, API call logs), payment-related data (orders, "
                        "invoices; never card numbers) and what you write to support"),
        "rights": _("on your privacy page, once signed in, or by e-mail to %(email)s: access, copy, correction, "
                    "deletion, withdrawing consent", email=config["SUPPORT_EMAIL"]),
    }


def notice_text(config, locale: str) -> str:
    """The transfer notice as shown, in ``locale``: its hash is stored with the consent."""
    with force_locale(locale):
        facts = transfer_facts(config)
        return "\n".join(f"{key}: {value}" for key, value in facts.items() if value)


def record(user_id: int, kinds: list[SeparateConsentKind], locale: str, config, now: datetime) -> None:
    digest = hashlib.sha256(notice_text(config, locale).encode()).hexdigest()
    for kind in kinds:
        db.session.add(SeparateConsent(user_id=user_id, kind=kind, given_at=now, locale=locale,
                                       notice_sha256=digest))
    db.session.flush()


def consents_of(user_id: int) -> list[SeparateConsent]:
    return list(db.session.scalars(select(SeparateConsent).where(SeparateConsent.user_id == user_id)
                                   .order_by(SeparateConsent.given_at)))


def needs_transfer_consent(user, locale: str | None) -> bool:
    """A Chinese-speaking customer (by their saved language, else the page's) without the separate
    consent to the transfer abroad: accounts made before it was asked at sign-up."""
    if not applies(user.locale or locale):
        return False
    return not db.session.scalar(select(SeparateConsent.id).where(
        SeparateConsent.user_id == user.id, SeparateConsent.kind == SeparateConsentKind.CROSS_BORDER,
        SeparateConsent.withdrawn_at.is_(None)))
