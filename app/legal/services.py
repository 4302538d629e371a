"""Legal documents: loading and publishing versions, rendering with live facts, history, notices.

A document is a Markdown file ``documents/<document>/<version>.<locale>.md`` with a header
(version, published and effective dates, significant or not, summary). Its body may use the live
facts below (Jinja), so the published text follows the configuration the code runs on.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from datetime import date, datetime
from html.parser import HTMLParser
from pathlib import Path

import markdown as md
from flask_babel import force_locale
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup
from sqlalchemy import func, select

from app import retention
from app.auth.models import User
from app.consent import registry
from app.database import insert_once
from app.email import external_url, queue_email
from app.extensions import db
from app.legal.models import DOCUMENTS, PolicyNotice, PolicyVersion
from app.tables import stacked
from app.uow import commit_now

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
    """Load every document file not yet in the database; return the new versions.

    Idempotent and safe to run concurrently (one insert per version, ignored when present), so
    the first request of a fresh deployment can run it (see ``ensure_published``).
    """
    added = []
    for path in sorted(directory.glob("*/*.md")):
        data = parse(path)
        if insert_once(PolicyVersion.__table__, **data):
            added.append(db.session.scalar(select(PolicyVersion).where(
                PolicyVersion.document == data["document"], PolicyVersion.version == data["version"],
                PolicyVersion.locale == data["locale"])))
    db.session.flush()
    return added


def ensure_published() -> bool:
    """Publish the shipped documents when the database has none (a fresh deployment): the site is
    never without its privacy policy. True when something was published (the caller commits)."""
    if db.session.scalar(select(PolicyVersion.id).limit(1)) is not None:
        return False
    return bool(publish())


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
    """The version in force: the newest published one whose effective date has come (the first
    version published, if none has taken effect yet)."""
    found = versions(document, locale, today)
    in_force = [v for v in found if v.effective_on <= today]
    return in_force[0] if in_force else (found[-1] if found else None)


def upcoming(document: str, locale: str, today: date) -> PolicyVersion | None:
    """A published version that takes effect later, announced beside the one in force."""
    now_in_force = current(document, locale, today)
    later = [v for v in versions(document, locale, today)
             if v.effective_on > today and (now_in_force is None or v.version != now_in_force.version)]
    return later[0] if later else None


def find_version(document: str, label: str, locale: str, today: date) -> PolicyVersion | None:
    """One published version by its label (the stable URL of every past version)."""
    return next((v for v in versions(document, locale, today) if v.version == label), None)


def current_version_label(document: str, today: date, fallback: str) -> str:
    row = current(document, "en", today)
    return row.version if row else fallback


def live_facts(config, locale: str) -> dict:
    """The facts documents state, read from the configuration and registries the code runs on."""
    with force_locale(locale):
        cookies = [{"name": c.shown_name(config), "category": str(registry.category(c.category).label),
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
    return Rendered(version, stacked(html), Markup(converter.toc))  # noqa: S704 - our own, reviewed documents


class _Blocks(HTMLParser):
    """The text a reader sees, one entry per heading, paragraph, list item or table row."""

    BLOCKS = {"p", "li", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "blockquote", "pre"}

    def __init__(self):
        super().__init__()
        self.blocks: list[str] = []
        self._parts: list[str] = []
        self._depth = 0

    def handle_starttag(self, tag, attrs):
        if tag in self.BLOCKS:
            self._flush()
            self._depth += 1
        elif tag in ("td", "th") and self._parts:
            self._parts.append(" | ")

    def handle_endtag(self, tag):
        if tag in self.BLOCKS:
            self._flush()
            self._depth = max(0, self._depth - 1)

    def handle_data(self, data):
        self._parts.append(data)

    def _flush(self):
        text = " ".join("".join(self._parts).split())
        if text:
            self.blocks.append(text)
        self._parts = []


def reader_text(version: PolicyVersion, config) -> list[str]:
    """The rendered document as its reader sees it: live facts filled in, no markup."""
    parser = _Blocks()
    parser.feed(str(render(version, config).html))
    parser.close()
    parser._flush()
    return parser.blocks


def diff(older: PolicyVersion, newer: PolicyVersion, config) -> list[tuple[str, list[tuple[str, str]]]]:
    """What a reader sees change, paragraph by paragraph: ("same" | "added" | "removed" |
    "changed", [(segment kind, text)]), a changed paragraph with its words marked "same",
    "added" or "removed"."""
    old, new = reader_text(older, config), reader_text(newer, config)
    out: list[tuple[str, list[tuple[str, str]]]] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=old, b=new, autojunk=False).get_opcodes():
        if tag == "equal":
            out += [("same", [("same", text)]) for text in old[i1:i2]]
        elif tag == "delete":
            out += [("removed", [("removed", text)]) for text in old[i1:i2]]
        elif tag == "insert":
            out += [("added", [("added", text)]) for text in new[j1:j2]]
        else:
            pairs = list(zip(old[i1:i2], new[j1:j2], strict=False))
            for a, b in pairs:  # a paragraph reworded shows its words; one replaced, both whole
                if difflib.SequenceMatcher(a=a.split(), b=b.split(), autojunk=False).ratio() >= 0.5:
                    out.append(("changed", _words(a, b)))
                else:
                    out += [("removed", [("removed", a)]), ("added", [("added", b)])]
            out += [("removed", [("removed", text)]) for text in old[i1 + len(pairs):i2]]
            out += [("added", [("added", text)]) for text in new[j1 + len(pairs):j2]]
    return out


def _words(old: str, new: str) -> list[tuple[str, str]]:
    a, b = old.split(), new.split()
    segments = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if tag == "equal":
            segments.append(("same", " ".join(a[i1:i2])))
            continue
        if i2 > i1:
            segments.append(("removed", " ".join(a[i1:i2])))
        if j2 > j1:
            segments.append(("added", " ".join(b[j1:j2])))
    return segments


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
    sent = 0
    today = now.date()
    for document in DOCUMENTS:
        english = [v for v in versions(document, "en", today) if v.significant]
        for version in english[:1]:  # the newest significant version of each document
            already = select(PolicyNotice.user_id).where(PolicyNotice.document == document,
                                                         PolicyNotice.version == version.version)
            eligible = select(User).where(
                User.email_verified_at.is_not(None), User.closed_at.is_(None), User.erased_at.is_(None),
                User.suspended_at.is_(None), _accepted_earlier(User, document, version),
                User.id.not_in(already)).order_by(User.id).limit(batch)
            while True:
                users = db.session.scalars(eligible).all()
                if not users:
                    break
                for user in users:
                    locale = user.locale or config["BABEL_DEFAULT_LOCALE"]
                    localized = find_version(document, version.version, locale, today) or version
                    db.session.add(PolicyNotice(user_id=user.id, document=document, version=version.version,
                                                emailed_at=now))
                    # The Terms are our contract: their change is a legal notice nobody turns off.
                    queue_email(user.email, "policy_changed", locale, user_id=user.id,
                                category="legal" if document == "terms" else None, document=document,
                                summary=localized.summary, effective_on=version.effective_on.isoformat(),
                                url=external_url(f"legal.show_{document}") if document != "cookies"
                                else external_url("consent.show_cookies"))
                    sent += 1
                commit_now("policy notices: one batch of users a transaction, their e-mails queued with it")
    return sent


def _accepted_earlier(user_model, document: str, version: PolicyVersion):
    """Who a new version concerns: everyone who accepted another version of it (whenever they
    signed up, the same day included). The cookie policy is not accepted at sign-up: it concerns
    every account opened before the version was published."""
    accepted = {"privacy": user_model.accepted_privacy_version,
                "terms": user_model.accepted_terms_version}.get(document)
    if accepted is None:
        return user_model.created_at < datetime.combine(version.published_on, datetime.min.time())
    return db.or_(accepted.is_(None), accepted != version.version)


def notice_details(notices: list[PolicyNotice], locale: str, today: date) -> list[dict]:
    """For the banner: each pending notice's document, summary and effective date."""
    details = []
    for notice in notices:
        version = find_version(notice.document, notice.version, locale, today)
        if version is not None:
            details.append({"document": notice.document, "summary": version.summary,
                            "effective_on": version.effective_on})
    return details


def notice_stats() -> list[dict]:
    rows = db.session.execute(select(
        PolicyNotice.document, PolicyNotice.version, func.count(), func.count(PolicyNotice.viewed_at),
        func.count(PolicyNotice.acknowledged_at)).group_by(PolicyNotice.document, PolicyNotice.version)).all()
    return [{"document": r[0], "version": r[1], "notified": r[2], "viewed": r[3], "acknowledged": r[4]}
            for r in rows]
