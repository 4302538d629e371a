"""Legal documents: loading and publishing versions, rendering with live facts, history, notices.

A document is a Markdown file ``documents/<document>/<version>.<locale>.md`` with a header
(version, published and effective dates, significant or not, summary). Its body may use the live
facts below (Jinja), so the published text follows the configuration the code runs on.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import markdown as md
from flask_babel import force_locale
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup
from sqlalchemy import func, select

from app.extensions import db
from app.legal.models import DOCUMENTS, PolicyNotice, PolicyVersion

DOCUMENTS_DIR = Path(__file__).parent / "documents"


@dataclass(frozen=True)
class Rendered:
    version: PolicyVersion
    html: Markup
    toc: Markup


def parse(path: Path) -> dict:
    """Header and body of a document file."""
    text = path.read_text(encoding="utf-8")
    if not text.startswith("---\n"):
        raise ValueError(f"{path}: missing header")
    header, body = text[4:].split("\n---\n", 1)
    meta = dict(line.split(":", 1) for line in header.strip().splitlines())
    meta = {k.strip(): v.strip() for k, v in meta.items()}
    document, stem = path.parent.name, path.name[: -len(".md")]
    version, locale = stem.rsplit(".", 1)
    return {
        "document": document, "version": meta.get("version", version), "locale": locale,
        "published_on": date.fromisoformat(meta["published"]), "effective_on": date.fromisoformat(meta["effective"]),
        "significant": meta.get("significant", "false").lower() == "true", "summary": meta.get("summary", ""),
        "body": body.strip() + "\n",
    }


def publish(directory: Path = DOCUMENTS_DIR) -> list[PolicyVersion]:
    """Load every document file not yet in the database (idempotent); return the new versions."""
    added = []
    for path in sorted(directory.glob("*/*.md")):
        data = parse(path)
        exists = db.session.scalar(select(PolicyVersion.id).where(
            PolicyVersion.document == data["document"], PolicyVersion.version == data["version"],
            PolicyVersion.locale == data["locale"]))
        if exists is None:
            version = PolicyVersion(**data)
            db.session.add(version)
            added.append(version)
    db.session.flush()
    return added


def versions(document: str, locale: str, today: date) -> list[PolicyVersion]:
    """Published versions in ``locale`` (English when missing), newest first."""
    rows = db.session.scalars(select(PolicyVersion).where(
        PolicyVersion.document == document, PolicyVersion.published_on <= today).order_by(
        PolicyVersion.published_on.desc(), PolicyVersion.id.desc())).all()
    by_version: dict[str, PolicyVersion] = {}
    for row in rows:
        if row.locale == locale or (row.version not in by_version and row.locale == "en"):
            by_version[row.version] = row
    return sorted(by_version.values(), key=lambda v: (v.published_on, v.version), reverse=True)


def current(document: str, locale: str, today: date) -> PolicyVersion | None:
    found = versions(document, locale, today)
    return found[0] if found else None


def current_version_label(document: str, today: date, fallback: str) -> str:
    row = current(document, "en", today)
    return row.version if row else fallback


def live_facts(config, locale: str) -> dict:
    """The facts documents state, read from the configuration and registries the code runs on."""
    from app import retention
    from app.consent import registry

    with force_locale(locale):
        cookies = [{"name": c.name, "category": str(registry.category(c.category).label),
                    "purpose": str(c.purpose), "lifetime": c.lifetime_text(config)} for c in registry.COOKIES]
        processors = [{"name": p["name"], "purpose": str(p["purpose"])} for p in config["SUBPROCESSORS"]]
    rules = [{"name": r.name, "action": r.action, "days": retention.rule_days(r, config) if r.action != "keep"
              else None, "description": r.description, "basis": r.legal_basis}
             for r in sorted(retention.RULES, key=lambda r: r.name)]
    return {
        "company": config["SITE_NAME"], "support_email": config["SUPPORT_EMAIL"], "site_url": config["SITE_URL"],
        "contact_url": "/contact", "request_url": "/privacy/request", "cookies_url": "/cookies",
        "min_age": config["MIN_AGE"], "cookies": cookies, "subprocessors": processors, "retention": rules,
        "days": {k: config[k] for k in ("UNVERIFIED_ACCOUNT_DAYS", "SESSION_IP_DAYS", "CALL_LOG_DAYS",
                                         "CALL_IP_DAYS", "CONTACT_RETENTION_DAYS", "ACCOUNT_GRACE_DAYS",
                                         "ACCOUNT_PURGE_DAYS", "SECURITY_EVENT_DAYS", "CONSENT_MAX_AGE_DAYS",
                                         "AUDIT_RETENTION_DAYS")},
        "order_years": config["ORDER_RETENTION_YEARS"],
    }


_sandbox = SandboxedEnvironment(autoescape=False)


def render(version: PolicyVersion, config) -> Rendered:
    text = _sandbox.from_string(version.body).render(**live_facts(config, version.locale))
    converter = md.Markdown(extensions=["toc", "tables"], extension_configs={"toc": {"toc_depth": "2-3"}})
    html = converter.convert(text)
    return Rendered(version, Markup(html), Markup(converter.toc))  # noqa: S704 - our own, reviewed documents


def diff(older: PolicyVersion, newer: PolicyVersion) -> list[tuple[str, str]]:
    """Line-by-line changes: ("same" | "added" | "removed", text)."""
    out = []
    for line in difflib.ndiff(older.body.splitlines(), newer.body.splitlines()):
        tag, text = line[:2], line[2:]
        if tag == "? ":
            continue
        out.append(({"  ": "same", "+ ": "added", "- ": "removed"}[tag], text))
    return out


# --- significant changes ------------------------------------------------------------------------------


def pending_notices(user_id: int) -> list[PolicyNotice]:
    return list(db.session.scalars(select(PolicyNotice).where(
        PolicyNotice.user_id == user_id, PolicyNotice.viewed_at.is_(None),
        PolicyNotice.acknowledged_at.is_(None))))


def mark_viewed(user_id: int, document: str, now: datetime) -> None:
    for notice in pending_notices(user_id):
        if notice.document == document:
            notice.viewed_at = now
    db.session.flush()


def acknowledge(user_id: int, now: datetime) -> None:
    for notice in pending_notices(user_id):
        notice.acknowledged_at = now
    db.session.flush()


def notify_significant(config, now: datetime, batch: int = 200) -> int:
    """Queue one e-mail per active, verified user per significant version (never twice); return how many."""
    from app.auth.models import User
    from app.email import external_url, queue_email

    sent = 0
    today = now.date()
    for document in DOCUMENTS:
        english = [v for v in versions(document, "en", today) if v.significant]
        for version in english[:1]:  # the newest significant version of each document
            already = select(PolicyNotice.user_id).where(PolicyNotice.document == document,
                                                         PolicyNotice.version == version.version)
            eligible = select(User).where(
                User.email_verified_at.is_not(None), User.closed_at.is_(None), User.erased_at.is_(None),
                User.suspended_at.is_(None), User.created_at < datetime.combine(version.published_on,
                                                                                datetime.min.time()),
                User.id.not_in(already)).order_by(User.id).limit(batch)
            while True:
                users = db.session.scalars(eligible).all()
                if not users:
                    break
                for user in users:
                    locale = user.locale or config["BABEL_DEFAULT_LOCALE"]
                    localized = current(document, locale, today) or version
                    db.session.add(PolicyNotice(user_id=user.id, document=document, version=version.version,
                                                emailed_at=now))
                    queue_email(user.email, "policy_changed", locale, document=document,
                                summary=localized.summary, effective_on=version.effective_on.isoformat(),
                                url=external_url(f"legal.show_{document}") if document != "cookies"
                                else external_url("consent.show_cookies"))
                    sent += 1
                db.session.commit()
    return sent


def notice_stats() -> list[dict]:
    rows = db.session.execute(select(
        PolicyNotice.document, PolicyNotice.version, func.count(), func.count(PolicyNotice.viewed_at),
        func.count(PolicyNotice.acknowledged_at)).group_by(PolicyNotice.document, PolicyNotice.version)).all()
    return [{"document": r[0], "version": r[1], "notified": r[2], "viewed": r[3], "acknowledged": r[4]}
            for r in rows]
