"""Consent decisions, the consent cookie, Global Privacy Control, and first-party analytics.

No request access here: callers pass the cookie value, the GPC flag, the locale and the time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from flask_babel import force_locale
from flask_babel import gettext as _
from itsdangerous import BadData, URLSafeSerializer
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from app.consent import registry
from app.consent.models import VISITOR_METHODS, AnalyticsSalt, ConsentMethod, ConsentRecord, PageViewDay, VisitorDay
from app.consent.registry import ConsentCategory
from app.database import insert_once
from app.extensions import db


@dataclass(frozen=True)
class Decision:
    """A visitor's cookie decision, as carried by the consent cookie."""

    consent_id: str
    categories: frozenset[str]
    policy_version: str
    decided_at: datetime

    def allows(self, category: ConsentCategory) -> bool:
        return category == ConsentCategory.NECESSARY or category in self.categories


def _serializer(secret_key: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret_key, salt="cookie-consent")


def encode_cookie(decision: Decision, secret_key: str) -> str:
    return _serializer(secret_key).dumps({
        "id": decision.consent_id,
        "c": sorted(decision.categories),
        "v": decision.policy_version,
        "t": int(decision.decided_at.replace(tzinfo=UTC).timestamp()),
    })


def decode_cookie(value: str | None, secret_key: str) -> Decision | None:
    """The decision in a consent cookie; None when missing or tampered with."""
    if not value:
        return None
    try:
        data = _serializer(secret_key).loads(value)
        return Decision(
            consent_id=str(data["id"]),
            categories=frozenset(str(c) for c in data["c"]),
            policy_version=str(data["v"]),
            decided_at=datetime.fromtimestamp(int(data["t"]), UTC).replace(tzinfo=None),
        )
    except (BadData, KeyError, TypeError, ValueError, OverflowError):
        return None


def max_age(decision: Decision, config) -> timedelta:
    accepted = bool(decision.categories - {ConsentCategory.NECESSARY})
    days = config["CONSENT_MAX_AGE_DAYS"] if accepted else config["CONSENT_REJECT_MAX_AGE_DAYS"]
    return timedelta(days=days)


def is_current(decision: Decision | None, config, now: datetime) -> bool:
    """A decision counts while it is younger than its maximum age and made under this policy."""
    return (
        decision is not None
        and decision.policy_version == config["COOKIE_POLICY_VERSION"]
        and now - decision.decided_at <= max_age(decision, config)
    )


def needs_reconsent_notice(decision: Decision | None, config, now: datetime) -> bool:
    """True when an earlier decision lapsed: the banner then says why it is back."""
    return decision is not None and not is_current(decision, config, now)


def analytics_allowed(decision: Decision | None, gpc: bool, config, now: datetime) -> bool:
    """Analytics run only with a current decision allowing them, and never under GPC."""
    return not gpc and is_current(decision, config, now) and decision.allows(ConsentCategory.ANALYTICS)


# --- the banner text and its hash ----------------------------------------------------------


def banner_texts() -> dict[str, str]:
    """The words of the banner (translated for the current locale); the template uses these."""
    return {
        "title": _("Cookies on this site"),
        "body": _("We use necessary cookies to keep you signed in and secure. With your permission we also "
                  "count page views with our own first-party analytics; nothing goes to another company."),
        "accept": _("Accept all"),
        "reject": _("Reject all"),
        "settings": _("Cookie settings"),
        "gpc": _("Your browser sends a Global Privacy Control signal: we honour it, so analytics stay off."),
    }


def banner_hash(locale: str) -> str:
    """SHA-256 of the banner as shown in ``locale``: the proof records what the visitor read."""
    with force_locale(locale):
        texts = banner_texts()
    return hashlib.sha256("\n".join(texts[k] for k in sorted(texts)).encode()).hexdigest()


# --- decisions -----------------------------------------------------------------------------


def decide(method: ConsentMethod, requested: set[str], gpc: bool, previous: Decision | None, user_id: int | None,
           locale: str, config, now: datetime) -> tuple[Decision, ConsentRecord]:
    """Record a decision and return it with its proof row.

    ``ACCEPT_ALL`` allows every optional category, ``REJECT_ALL`` and ``WITHDRAW`` none, ``SAVE``
    exactly ``requested``. Under Global Privacy Control, analytics are removed and the method
    is recorded as ``GPC`` when the visitor's request would have allowed them.
    """
    if method not in VISITOR_METHODS:
        raise ValueError(f"unknown consent action {method!r}")
    optional = {c.name for c in registry.optional_categories()}
    if method == ConsentMethod.ACCEPT_ALL:
        allowed = set(optional)
    elif method == ConsentMethod.SAVE:
        allowed = set(requested) & optional
    else:
        allowed = set()
    if gpc and ConsentCategory.ANALYTICS in allowed:
        allowed.discard(ConsentCategory.ANALYTICS)
        method = ConsentMethod.GPC
    consent_id = previous.consent_id if previous is not None else str(uuid.uuid4())
    categories = frozenset(allowed | {ConsentCategory.NECESSARY})
    decision = Decision(consent_id, categories, config["COOKIE_POLICY_VERSION"], now.replace(microsecond=0))
    record = ConsentRecord(
        consent_id=consent_id, user_id=user_id, created_at=now, method=method,
        categories=",".join([ConsentCategory.NECESSARY, *sorted(allowed)]),
        policy_version=config["COOKIE_POLICY_VERSION"], banner_hash=banner_hash(locale), locale=locale,
    )
    db.session.add(record)
    db.session.flush()
    return decision, record


def link_to_account(consent_id: str, user_id: int) -> int:
    """At sign-in: this browser's decisions made while signed out become the account's, so the
    privacy centre and the export show them. Decisions of another account are left alone."""
    return db.session.execute(update(ConsentRecord).where(
        ConsentRecord.consent_id == consent_id, ConsentRecord.user_id.is_(None)).values(user_id=user_id)).rowcount


def history(consent_id: str | None, user_id: int | None) -> list[ConsentRecord]:
    """Every recorded decision of this browser (consent id) or account, newest first."""
    conditions = []
    if consent_id:
        conditions.append(ConsentRecord.consent_id == consent_id)
    if user_id:
        conditions.append(ConsentRecord.user_id == user_id)
    if not conditions:
        return []
    return list(db.session.scalars(
        select(ConsentRecord).where(db.or_(*conditions)).order_by(ConsentRecord.id.desc()).limit(100)))


def cookies_to_expire(decision: Decision) -> list[registry.Cookie]:
    """Registered cookies of every category the decision does not allow."""
    refused = {c.name for c in registry.CATEGORIES} - set(decision.categories) - {ConsentCategory.NECESSARY}
    return list(registry.cookies_in(refused))


# --- first-party analytics -------------------------------------------------------------------


def visitor_hash(visitor_id: str, salt: str) -> str:
    """Keyed with the day's random salt: the same visitor gets another hash the next day, and
    once the salt is deleted nobody (we included) can recompute whose a hash was."""
    return hmac.new(salt.encode(), visitor_id.encode(), hashlib.sha256).hexdigest()


def daily_salt(today: date) -> str:
    """Today's salt, made at the day's first counted view; the salts of past days are deleted
    then, in the same transaction (the daily purge does it too, when no one came)."""
    salt = db.session.scalar(select(AnalyticsSalt.salt).where(AnalyticsSalt.day == today))
    if salt is None:
        db.session.execute(delete(AnalyticsSalt).where(AnalyticsSalt.day < today))
        insert_once(AnalyticsSalt.__table__, day=today, salt=secrets.token_hex(32))  # a racing worker's wins
        salt = db.session.scalar(select(AnalyticsSalt.salt).where(AnalyticsSalt.day == today))
    return salt


def count_page_view(path: str, visitor_id: str | None, today: date) -> None:
    """Add one view of ``path`` (a route pattern) today, and the visitor to today's set."""
    updated = db.session.execute(
        update(PageViewDay).where(PageViewDay.day == today, PageViewDay.path == path)
        .values(views=PageViewDay.views + 1)
    ).rowcount
    if not updated:
        try:
            with db.session.begin_nested():
                db.session.add(PageViewDay(day=today, path=path, views=1))
        except IntegrityError:  # another worker created the row first
            db.session.execute(
                update(PageViewDay).where(PageViewDay.day == today, PageViewDay.path == path)
                .values(views=PageViewDay.views + 1))
    if visitor_id:
        insert_once(VisitorDay.__table__, day=today, visitor_hash=visitor_hash(visitor_id, daily_salt(today)))


def daily_totals(since: date, until: date) -> list[dict]:
    """Views and unique visitors per day from ``since`` to ``until`` inclusive (missing days are 0)."""
    views = dict(db.session.execute(
        select(PageViewDay.day, db.func.sum(PageViewDay.views)).where(PageViewDay.day.between(since, until))
        .group_by(PageViewDay.day)).all())
    visitors = dict(db.session.execute(
        select(VisitorDay.day, db.func.count()).where(VisitorDay.day.between(since, until))
        .group_by(VisitorDay.day)).all())
    days = [since + timedelta(days=i) for i in range((until - since).days + 1)]
    return [{"day": d, "views": int(views.get(d, 0)), "visitors": int(visitors.get(d, 0))} for d in days]


def top_pages(since: date, until: date, limit: int = 20) -> list[tuple[str, int]]:
    return [(path, int(total)) for path, total in db.session.execute(
        select(PageViewDay.path, db.func.sum(PageViewDay.views).label("total"))
        .where(PageViewDay.day.between(since, until)).group_by(PageViewDay.path)
        .order_by(db.desc("total")).limit(limit)).all()]
