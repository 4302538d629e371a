"""Everything we hold about an e-mail address, and the erasure of a person (not only of an account).

``holdings`` is the one inventory used by access requests, erasure requests and the staff console:
the account when there is one, contact threads and their messages, rights requests, consent
records linked to the account, outbox rows, mail files written in development, and audit entries
that name the address. ``erase_person`` erases or anonymises each item, keeps only what a legal
hold or a retention rule requires, and reports what was kept and why.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, func, or_, select, update

from app.audit import services as audit
from app.audit.models import AuditEntry
from app.auth.models import User
from app.billing.models import AlertRecipient
from app.consent.models import ConsentRecord
from app.contact.models import ContactMessage, ContactThread
from app.email import OutboxMessage
from app.extensions import db
from app.labels import label
from app.rights.models import RequestEvent, RightsRequest
from app.rights.services import erase_account


@dataclass
class Holding:
    """One kind of data held about the address: how many items, and what erasure does to them."""

    kind: str
    label: object
    count: int
    erasure: str  # "delete" | "anonymise" | "keep"
    reason: object = None
    items: list[str] = field(default_factory=list)


def _account(email: str) -> User | None:
    return db.session.scalar(select(User).where(func.lower(User.email) == email.lower()))


def _threads(email: str, user: User | None):
    condition = func.lower(ContactThread.email) == email.lower()
    if user is not None:
        condition = or_(condition, ContactThread.user_id == user.id)
    return select(ContactThread).where(condition)


def _requests(email: str, user: User | None):
    condition = func.lower(RightsRequest.email) == email.lower()
    if user is not None:
        condition = or_(condition, RightsRequest.user_id == user.id)
    return select(RightsRequest).where(condition)


def _audit_rows(email: str):
    return select(AuditEntry).where(func.lower(AuditEntry.target).contains(email.lower()))


def mail_files(email: str, mail_dir: str | None) -> list[Path]:
    """Development mail files (``MAIL_DIR``) written to or naming the address."""
    if not mail_dir or not Path(mail_dir).is_dir():
        return []
    needle = email.lower().encode()
    return [path for path in sorted(Path(mail_dir).glob("*.eml")) if needle in path.read_bytes().lower()]


def holdings(email: str, config) -> list[Holding]:
    """What we hold about ``email``, kind by kind (kinds with nothing held are left out)."""
    user = _account(email)
    found: list[Holding] = []
    if user is not None:
        found.append(Holding("account", _l("Account"), 1, "anonymise",
                             _l("Orders and the credit ledger stay for tax law, without the buyer's identity."),
                             [f"#{user.id}, {user.created_at:%Y-%m-%d}"]))
        consents = db.session.scalar(select(func.count()).select_from(ConsentRecord)
                                     .where(ConsentRecord.user_id == user.id)) or 0
        if consents:
            found.append(Holding("consents", _l("Cookie consent records"), consents, "delete"))
    threads = db.session.scalars(_threads(email, user)).all()
    if threads:
        found.append(Holding("threads", _l("Support conversations"), len(threads), "delete", None,
                             [f"{t.reference} ({t.created_at:%Y-%m-%d}, {len(t.messages)})" for t in threads]))
    requests = db.session.scalars(_requests(email, user)).all()
    if requests:
        found.append(Holding("requests", _l("Privacy requests"), len(requests), "anonymise",
                             _l("The record that a request was made and answered is kept without the address."),
                             [f"{r.reference} ({label('request_type', r.type)}, {label('request', r.status)})"
                              for r in requests]))
    listed = db.session.scalar(select(func.count()).select_from(AlertRecipient)
                               .where(AlertRecipient.email == email.lower())) or 0
    if listed:
        found.append(Holding("alert_recipients", _l("Usage alerts sent to the address for another account"), listed,
                             "delete"))
    queued = db.session.scalar(select(func.count()).select_from(OutboxMessage)
                               .where(func.lower(OutboxMessage.recipient) == email.lower())) or 0
    if queued:
        found.append(Holding("outbox", _l("E-mail copies"), queued, "delete"))
    files = mail_files(email, config.get("MAIL_DIR"))
    if files:
        found.append(Holding("mail_files", _l("Development mail files"), len(files), "delete", None,
                             [p.name for p in files]))
    audit_rows = db.session.scalar(select(func.count()).select_from(_audit_rows(email).subquery())) or 0
    if audit_rows:
        found.append(Holding("audit", _l("Audit entries naming the address"), audit_rows, "anonymise",
                             _l("The audit log keeps what staff did, with the address replaced.")))
    return found


def erase_person(email: str, config, now: datetime, hard: bool = False, notify_account: bool = True) -> dict:
    """Erase everything ``holdings`` finds for ``email``; return what was erased and what was kept.

    The account (if any) goes through the account erasure (``hard`` for a minor's); the rest is
    deleted (threads, consent records, mail copies and files) or anonymised (rights requests keep
    their reference, type, dates and status; audit entries their action). The caller checks legal
    holds first and commits.
    """
    email = email.strip().lower()
    user = _account(email)
    report: dict = {"deleted": {}, "anonymised": {}, "kept": {}}
    # Copies first: the account erasure then queues its own notice, which is deleted once delivered.
    report["deleted"][str(_l("e-mail copies"))] = db.session.execute(
        delete(OutboxMessage).where(func.lower(OutboxMessage.recipient) == email)
        .execution_options(retention_purge=True)).rowcount
    if user is not None:
        account = erase_account(user, config, now, hard=hard, notify=notify_account)["report"]
        report["deleted"].update({str(k): v for k, v in account["deleted"].items()})
        report["kept"].update({str(k): v for k, v in account["kept"].items()})
        report["anonymised"][str(_l("account"))] = 1
    threads = [t.id for t in db.session.scalars(_threads(email, None))]
    if threads:
        db.session.execute(delete(ContactMessage).where(ContactMessage.thread_id.in_(threads))
                           .execution_options(retention_purge=True))
        report["deleted"][str(_l("support conversations"))] = db.session.execute(
            delete(ContactThread).where(ContactThread.id.in_(threads)).execution_options(retention_purge=True)
        ).rowcount
    listed = db.session.execute(delete(AlertRecipient).where(AlertRecipient.email == email)
                                .execution_options(retention_purge=True)).rowcount
    if listed:
        report["deleted"][str(_l("alert addresses"))] = listed
    report["anonymised"][str(_l("privacy requests"))] = anonymise_requests(email, now)
    files = mail_files(email, config.get("MAIL_DIR"))
    for path in files:
        path.unlink(missing_ok=True)
    if files:
        report["deleted"][str(_l("development mail files"))] = len(files)
    report["anonymised"][str(_l("audit entries"))] = audit.pseudonymise_text(email, "erased@erased.invalid")
    db.session.flush()
    return report


def anonymise_requests(email: str, now: datetime) -> int:
    """The address's rights requests keep their reference, type, status and dates; the address,
    the details, the outcome and the notes go."""
    ids = [r.id for r in db.session.scalars(select(RightsRequest).where(func.lower(RightsRequest.email) == email))]
    for request_id in ids:
        req = db.session.get(RightsRequest, request_id)
        req.email = f"erased-{req.reference.lower()}@erased.invalid"
        req.details = ""
        req.outcome = "Erased on request." if req.outcome else None
        req.user_id = None
        req.code_hash = None
    if ids:
        db.session.execute(update(RequestEvent).where(RequestEvent.request_id.in_(ids)).values(note=None)
                           .execution_options(synchronize_session=False))
    db.session.flush()
    return len(ids)


def summary(report: dict) -> str:
    """The report as lines for the requester and the staff record (what was erased, what was kept)."""
    lines = []
    for name, count in report["deleted"].items():
        if count:
            lines.append(f"Deleted: {name} ({count}).")
    for name, count in report["anonymised"].items():
        if count:
            lines.append(f"Anonymised: {name} ({count}).")
    for name, years in report["kept"].items():
        lines.append(f"Kept: {name}" + (f", {years} years (tax law)." if years else ", without identity."))
    return "\n".join(lines) or "Nothing was held for this address."
