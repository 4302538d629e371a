"""Support threads: create, reply, staff actions, signed reply links. No request, no commit."""

from __future__ import annotations

from datetime import datetime

from itsdangerous import BadData, URLSafeTimedSerializer
from sqlalchemy import func, select

from app import references
from app.audit import access
from app.audit import services as audit
from app.audit.models import AccessCategory, AuditAction
from app.auth.models import User
from app.contact.models import (
    THREAD_TRANSITIONS,
    ContactMessage,
    ContactThread,
    ContactTopic,
    MessageKind,
    ThreadStatus,
)
from app.email import external_url, queue_email
from app.extensions import db


def new_reference() -> str:
    return references.new_reference("SUP", 6)


def _links(secret_key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt="contact-thread-link")


def reply_link_token(thread: ContactThread, secret_key: str) -> str:
    """A signed token naming exactly one thread (its id and reference): it opens no other."""
    return _links(secret_key).dumps({"t": thread.id, "r": thread.reference})


def thread_from_token(token: str, secret_key: str, max_age_days: int) -> ContactThread | None:
    try:
        data = _links(secret_key).loads(token, max_age=max_age_days * 86400)
    except BadData:
        return None
    thread = db.session.get(ContactThread, data.get("t")) if isinstance(data, dict) else None
    return thread if thread is not None and thread.reference == data.get("r") else None


def create_thread(name: str, email: str, topic: ContactTopic, body: str, user_id: int | None, ip: str | None,
                  locale: str, config, now: datetime) -> ContactThread:
    thread = ContactThread(reference=new_reference(), user_id=user_id, name=name.strip(), email=email.strip().lower(),
                           topic=topic, status=ThreadStatus.NEW, locale=locale, created_at=now, updated_at=now, ip=ip)
    db.session.add(thread)
    db.session.flush()
    db.session.add(ContactMessage(thread_id=thread.id, kind=MessageKind.CUSTOMER, body=body, created_at=now))
    db.session.flush()
    # The reference and a link only: the address is unconfirmed, so our mail must not carry a
    # stranger's text (or links) to whatever inbox was typed in.
    queue_email(thread.email, "contact_received", locale, reference=thread.reference,
                thread_url=thread_url(thread, config),
                retention_days=config["CONTACT_RETENTION_DAYS"])
    return thread


def thread_url(thread: ContactThread, config) -> str:
    if thread.user_id:
        return external_url("contact.show_my_thread", reference=thread.reference)
    return external_url("contact.show_linked_thread", token=reply_link_token(thread, config["SECRET_KEY"]))


def add_customer_reply(thread: ContactThread, body: str, now: datetime) -> None:
    db.session.add(ContactMessage(thread_id=thread.id, kind=MessageKind.CUSTOMER, body=body, created_at=now))
    if thread.status != ThreadStatus.NEW:  # a new thread stays new until staff pick it up
        thread.status = THREAD_TRANSITIONS.check(thread.status, ThreadStatus.OPEN)
    thread.closed_at = None
    thread.updated_at = now
    db.session.flush()


def add_staff_reply(thread: ContactThread, staff, body: str, config, now: datetime) -> None:
    db.session.add(ContactMessage(thread_id=thread.id, kind=MessageKind.STAFF, staff_id=staff.id, body=body,
                                  created_at=now))
    thread.status = THREAD_TRANSITIONS.check(thread.status, ThreadStatus.WAITING)
    thread.updated_at = now
    db.session.flush()
    queue_email(thread.email, "contact_reply", thread.locale, reference=thread.reference, name=thread.name,
                message=body, thread_url=thread_url(thread, config))


def add_note(thread: ContactThread, staff, body: str, now: datetime) -> None:
    db.session.add(ContactMessage(thread_id=thread.id, kind=MessageKind.NOTE, staff_id=staff.id, body=body,
                                  created_at=now))
    thread.updated_at = now
    db.session.flush()


def set_status(thread: ContactThread, status: ThreadStatus, now: datetime) -> None:
    """Close or reopen; raises IllegalTransition for a move THREAD_TRANSITIONS does not allow."""
    thread.status = THREAD_TRANSITIONS.check(thread.status, status)
    thread.closed_at = now if status == ThreadStatus.CLOSED else None
    thread.updated_at = now
    db.session.flush()


def assign(thread: ContactThread, assignee_id: int | None, now: datetime) -> None:
    thread.assignee_id = assignee_id or None
    if thread.status == ThreadStatus.NEW and assignee_id:
        thread.status = THREAD_TRANSITIONS.check(thread.status, ThreadStatus.OPEN)
    thread.updated_at = now
    db.session.flush()


def visible_messages(thread: ContactThread) -> list[ContactMessage]:
    """What the sender sees: everything but internal notes."""
    return [m for m in thread.messages if m.kind != MessageKind.NOTE]


def threads_of(user_id: int) -> list[ContactThread]:
    return list(db.session.scalars(select(ContactThread).where(ContactThread.user_id == user_id)
                                   .order_by(ContactThread.updated_at.desc())))


def inbox(status: str | None, topic: ContactTopic | None, query: str | None,
          limit: int = 200) -> list[ContactThread]:
    statement = select(ContactThread).order_by(ContactThread.updated_at.desc())
    if status:
        statement = statement.where(ContactThread.status == status)
    if topic:
        statement = statement.where(ContactThread.topic == topic)
    if query:
        query = query.strip()
        statement = statement.where(db.or_(ContactThread.reference == query.upper(),
                                           ContactThread.email == query.lower()))
    return list(db.session.scalars(statement.limit(limit)))


def inbox_counts() -> dict:
    new = db.session.scalar(select(func.count()).select_from(ContactThread).where(
        ContactThread.status == ThreadStatus.NEW))
    unassigned = db.session.scalar(select(func.count()).select_from(ContactThread).where(
        ContactThread.assignee_id.is_(None), ContactThread.status != ThreadStatus.CLOSED))
    return {"new": new or 0, "unassigned": unassigned or 0}


def find_thread(reference: str, user_id: int | None = None) -> ContactThread | None:
    """The thread with ``reference``; with ``user_id``, only if it is that customer's."""
    query = select(ContactThread).where(ContactThread.reference == reference)
    if user_id is not None:
        query = query.where(ContactThread.user_id == user_id)
    return db.session.scalar(query)


STAFF_ACTIONS = ("reply", "note", "assign", "close", "reopen")


def staff_action(thread: ContactThread, staff, action: str, *, message: str | None, assignee: int | None, config,
                 now: datetime, ip: str | None = None) -> None:
    """One staff action on a thread from its page, with its audit row (flush only): a reply (mailed
    through the outbox), an internal note, an assignment, closing or reopening."""
    reason = None
    if action == "reply":
        add_staff_reply(thread, staff, message, config, now)
    elif action == "note":
        add_note(thread, staff, message, now)
    elif action == "assign":
        assign(thread, assignee, now)
        reason = str(assignee or "nobody")
    elif action in ("close", "reopen"):
        set_status(thread, ThreadStatus.CLOSED if action == "close" else ThreadStatus.OPEN, now)
    else:
        raise ValueError(f"unknown thread action {action!r}")
    record_staff_access(thread, staff, action, now, ip, reason)


def record_staff_view(thread: ContactThread, staff, config, now: datetime, ip: str | None = None) -> None:
    """A staff member opening a thread: the audit row, and the access its customer (when it is
    an account's) sees on their privacy page."""
    owner = db.session.get(User, thread.user_id) if thread.user_id else None
    access.record(staff, owner, AccessCategory.SUPPORT, now, config, reference=thread.reference)
    record_staff_access(thread, staff, "view", now, ip)


def record_staff_access(thread: ContactThread, staff, action: str, now: datetime, ip: str | None = None,
                        reason: str | None = None) -> None:
    """The audit row of a staff member's action on (or view of) a thread."""
    audit.record(staff, AuditAction(f"contact:thread:{action}"), now, target_user=None, target=thread.reference,
                 reason=reason, ip=ip)

