"""E-mail: the outbox, templates and delivery.

Mail is rendered from ``templates/email/<name>/{subject.txt,body.txt,body.html}`` in the
recipient's language and queued in the outbox table inside the caller's transaction. Requests
only write the outbox: no request waits for a mail server, and a request that sends mail takes
as long as one that does not. Delivery is the outbox job's (``MAIL_DELIVERY``):

- ``queue`` (production): ``flask mail send-queued`` from cron, or ``--follow`` as a service;
- ``background`` (development): a thread of the serving process, so ``instance/mail/`` fills at once;
- ``inline`` (tests): right after the request, so a test reads its mail at once.

Each run claims the rows it sends (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, one atomic UPDATE
on SQLite), so two runners never send a message twice. Whatever fails stays queued and is
retried with back-off. Bodies, which may carry one-time links, are stored encrypted and wiped at
delivery; a delivered message keeps only its envelope until the retention job deletes it.

Transports: SMTP from ``MAIL_URL`` (``smtp://``, ``smtps://``, ``smtp+starttls://``), or, when it
is unset, ``.eml`` files under ``MAIL_DIR`` (development).
"""

from __future__ import annotations

import logging
import os
import secrets
import smtplib
import socket
import ssl
import threading
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from urllib.parse import unquote, urlsplit

from flask import Flask, current_app, g, has_request_context, render_template
from flask_babel import force_locale
from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Mapped, mapped_column

from app import mail_preferences
from app.crypto import EncryptedText
from app.extensions import db
from app.retention import PERSONAL, Rule, register
from app.timeutil import utcnow
from app.uow import commit_now, on_commit

log = logging.getLogger(__name__)

MAX_BACKOFF = timedelta(hours=6)


class OutboxMessage(db.Model):
    __tablename__ = "outbox_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    template: Mapped[str] = mapped_column(db.String(60))
    locale: Mapped[str] = mapped_column(db.String(16))
    recipient: Mapped[str] = mapped_column(db.String(254), info=PERSONAL)
    subject: Mapped[str] = mapped_column(db.String(255), info=PERSONAL)
    body_text: Mapped[str] = mapped_column(EncryptedText, info=PERSONAL)  # may hold a live link
    body_html: Mapped[str] = mapped_column(EncryptedText, info=PERSONAL)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    last_error: Mapped[str | None] = mapped_column(db.String(500))
    sent_at: Mapped[datetime | None] = mapped_column(index=True)
    # A runner's claim: no other runner sends the row until the claim expires (a crashed runner's).
    claimed_by: Mapped[str | None] = mapped_column(db.String(64))
    claimed_until: Mapped[datetime | None]
    # Deleted, envelope and all, once delivered: the last message to an erased person's address.
    ephemeral: Mapped[bool] = mapped_column(default=False, server_default=db.false())
    # Optional mail: its one-click unsubscribe link (RFC 8058), a capability: wiped at delivery.
    unsubscribe_url: Mapped[str | None] = mapped_column(EncryptedText, info=PERSONAL)


register(
    Rule(
        name="outbox.sent",
        model=OutboxMessage,
        action="delete",
        days_setting="MAIL_SENT_RETENTION_DAYS",
        default_days=7,
        description="Delivered e-mail: the envelope is deleted N days after delivery.",
        selects=lambda cutoff: OutboxMessage.sent_at < cutoff,
    )
)


def external_url(endpoint: str, **values) -> str:
    """An absolute link for e-mail, built on SITE_URL (never on the request's Host header)."""
    site = urlsplit(current_app.config["SITE_URL"])
    adapter = current_app.url_map.bind(site.netloc, script_name=site.path or "/", url_scheme=site.scheme)
    return adapter.build(endpoint, values, force_external=True)


def render_email(template: str, locale: str, **context) -> tuple[str, str, str]:
    """Subject, text body and HTML body of ``template`` in ``locale``."""
    with force_locale(locale):
        subject = render_template(f"email/{template}/subject.txt", **context).strip()
        text = render_template(f"email/{template}/body.txt", **context)
        html = render_template(f"email/{template}/body.html", subject=subject, **context)
    return " ".join(subject.split()), text, html


def queue_email(recipient: str, template: str, locale: str | None = None, ephemeral: bool = False,
                user_id: int | None = None, category: str | None = None, **context) -> OutboxMessage | None:
    """Queue a message in the current transaction; it is sent once the transaction commits.
    ``ephemeral``: no envelope is kept after delivery (the last message to an erased person).

    Optional mail (``app.mail_preferences``) names the account it is about (``user_id``): it is
    not queued (None) when that account turned its category off, and it carries a one-click
    unsubscribe link. ``category`` overrides the template's own category.
    """
    kind = mail_preferences.category_of(template, category)
    unsubscribe_url = None
    if kind.optional:
        if user_id is None:
            raise ValueError(f"{template} is optional mail: name the account it is about (user_id)")
        if not mail_preferences.wants(user_id, kind.name):
            return None
        token = mail_preferences.unsubscribe_token(current_app.config["SECRET_KEY"], user_id, kind.name, recipient)
        unsubscribe_url = external_url("account.unsubscribe_mail", token=token)
        context.update(unsubscribe_url=unsubscribe_url, mail_category=kind,
                       notifications_url=external_url("account.show_notifications"))
    locale = locale or current_app.config["BABEL_DEFAULT_LOCALE"]
    subject, text, html = render_email(template, locale, **context)
    message = OutboxMessage(
        template=template, locale=locale, recipient=recipient, subject=subject, body_text=text, body_html=html,
        ephemeral=ephemeral, unsubscribe_url=unsubscribe_url,
    )
    db.session.add(message)
    db.session.flush()
    if has_request_context():
        _kick_after_commit(message.id)
    return message


def _kick_after_commit(message_id: int) -> None:
    """Hand the queued message to its sender once the request's work commits (never before: a
    rolled-back request sends nothing). ``inline`` sends it then; ``background`` wakes the sender."""
    mode = current_app.config.get("MAIL_DELIVERY", "queue")
    if mode == "inline":
        ids = g.get("outbox_ids")
        if ids is None:
            ids = g.outbox_ids = []
            config = current_app.config
            on_commit(lambda: _deliver_committed(config, g.pop("outbox_ids", None)))
        ids.append(message_id)
    elif mode == "background" and "twtapi_mail_sender" in current_app.extensions:
        on_commit(current_app.extensions["twtapi_mail_sender"]["wake"].set)


def outbox_backlog(now: datetime) -> tuple[int, int]:
    """Undelivered messages, and the age in seconds of the oldest (0 when none)."""
    count, oldest = db.session.execute(
        select(func.count(), func.min(OutboxMessage.created_at)).where(OutboxMessage.sent_at.is_(None))).one()
    return int(count), int((now - oldest).total_seconds()) if oldest else 0


def _build(message: OutboxMessage, sender: str) -> EmailMessage:
    mail = EmailMessage()
    mail["Subject"] = message.subject
    mail["From"] = sender
    mail["To"] = message.recipient
    # RFC 5322 3.3: "-0000" would say the time zone is unknown; the time is UTC, so "+0000".
    mail["Date"] = format_datetime(datetime.now(UTC))
    mail["Message-ID"] = make_msgid(domain=sender.rsplit("@", 1)[-1].strip("> ") or None)
    mail["Auto-Submitted"] = "auto-generated"
    if message.unsubscribe_url and message.unsubscribe_url.startswith("https://"):
        # RFC 8058: one HTTPS URI, and the POST a mail client sends to it turns the category off.
        mail["List-Unsubscribe"] = f"<{message.unsubscribe_url}>"
        mail["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    mail.set_content(message.body_text)
    mail.add_alternative(message.body_html, subtype="html")
    mail["Content-Language"] = message.locale.replace("_", "-")  # after set_content, which clears it
    if "List-Unsubscribe" in mail:
        # A mail client reads the URI from the raw field: folded at 78 characters, the long link
        # would be sent as RFC 2047 encoded words that no client understands. One line (RFC 5322
        # allows 998) also keeps the DKIM signature over it intact. The bodies are encoded already.
        mail.policy = mail.policy.clone(max_line_length=998)
    return mail


def _send_smtp(url: str, mail: EmailMessage, timeout: float = 10.0) -> None:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = parts.hostname or "localhost"
    if scheme == "smtps":
        client = smtplib.SMTP_SSL(host, parts.port or 465, timeout=timeout, context=ssl.create_default_context())
    elif scheme in {"smtp", "smtp+starttls"}:
        client = smtplib.SMTP(host, parts.port or (587 if scheme == "smtp+starttls" else 25), timeout=timeout)
    else:
        raise ValueError(f"MAIL_URL scheme must be smtp, smtps or smtp+starttls, not {scheme!r}")
    with client:
        if scheme == "smtp+starttls":
            client.starttls(context=ssl.create_default_context())
        if parts.username:
            client.login(unquote(parts.username), unquote(parts.password or ""))
        client.send_message(mail)


def _write_file(directory: str, message: OutboxMessage, mail: EmailMessage) -> Path:
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{message.created_at:%Y%m%d-%H%M%S}-{message.id:06d}-{message.template}.eml"
    path.write_bytes(bytes(mail))
    return path


def _transmit(config, message: OutboxMessage) -> None:
    mail = _build(message, config["MAIL_FROM"])
    if config.get("MAIL_URL"):
        _send_smtp(config["MAIL_URL"], mail)
    elif config.get("MAIL_DIR"):
        path = _write_file(config["MAIL_DIR"], message, mail)
        log.info("Mail %s (%s) written to %s", message.id, message.template, path)
    else:
        raise RuntimeError("No mail transport: set MAIL_URL or MAIL_DIR")


def backoff(attempts: int) -> timedelta:
    """1, 2, 4, 8 ... minutes after each failure, at most six hours."""
    return min(timedelta(minutes=2 ** max(attempts - 1, 0)), MAX_BACKOFF)


CLAIM_SECONDS = 300  # longer than any SMTP conversation; a crashed runner's rows come back then


def claim_due(runner: str, now: datetime, ids: list[int] | None = None, limit: int = 200) -> list[int]:
    """Claim up to ``limit`` due messages (or exactly ``ids``) for ``runner``; commit; return their ids.

    One UPDATE whose WHERE re-checks the claim: PostgreSQL re-evaluates it on the locked row, and
    SQLite runs the whole statement under its write lock, so a row is claimed by one runner.
    """
    free = or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < now)
    due = select(OutboxMessage.id).where(OutboxMessage.sent_at.is_(None), free)
    due = due.where(OutboxMessage.id.in_(ids)) if ids else due.where(OutboxMessage.next_attempt_at <= now)
    due = due.order_by(OutboxMessage.id).limit(limit)
    if db.session.get_bind().dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    token = f"{runner}:{secrets.token_hex(6)}"
    db.session.execute(
        update(OutboxMessage).where(OutboxMessage.id.in_(due.scalar_subquery()), OutboxMessage.sent_at.is_(None), free)
        .values(claimed_by=token, claimed_until=now + timedelta(seconds=CLAIM_SECONDS))
        .execution_options(synchronize_session=False)
    )
    commit_now("outbox: the claim is seen by every other runner before anything is sent")
    return list(db.session.scalars(select(OutboxMessage.id).where(OutboxMessage.claimed_by == token,
                                                                  OutboxMessage.sent_at.is_(None))
                                   .order_by(OutboxMessage.id)))


def deliver_due(config, now: datetime | None = None, ids: list[int] | None = None, limit: int = 200,
                runner: str | None = None) -> dict:
    """Claim and send queued messages that are due (or exactly ``ids``); commit after each one.

    Returns counts of ``sent`` and ``failed``. A failure records the error class (never the
    message body) and schedules the next attempt with back-off.
    """
    now = now or utcnow()
    counts = {"sent": 0, "failed": 0}
    for message_id in claim_due(runner or runner_name(), now, ids, limit):
        message = db.session.get(OutboxMessage, message_id)
        try:
            _transmit(config, message)
        except Exception as exc:  # noqa: BLE001 - any failure leaves the message queued
            message.attempts += 1
            message.last_error = f"{type(exc).__name__}: {str(exc)[:400]}"
            message.next_attempt_at = now + backoff(message.attempts)
            counts["failed"] += 1
            log.warning("Mail %s (%s) not sent, attempt %s: %s", message.id, message.template,
                        message.attempts, type(exc).__name__)
        else:
            log.info("Mail %s (%s) sent", message.id, message.template)
            message.sent_at = now
            message.attempts += 1
            message.last_error = None
            message.body_text = ""
            message.body_html = ""
            message.unsubscribe_url = None
            counts["sent"] += 1
        message.claimed_by, message.claimed_until = None, None
        if message.ephemeral and message.sent_at is not None:
            db.session.delete(message)
        commit_now("outbox: a sent message is on record before the next is sent, so it is never sent twice")
    return counts


def runner_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"[:50]


def follow(app: Flask, interval: float = 1.0, stop: threading.Event | None = None,
           wake: threading.Event | None = None) -> None:
    """Deliver due mail every ``interval`` seconds until ``stop`` is set (the service and the
    development thread), and at once when ``wake`` is set (a request's commit queued mail). A
    failing round is logged and the next one tries again."""
    stop = stop or threading.Event()
    wake = wake or threading.Event()
    while not stop.is_set():
        wake.clear()
        try:
            with app.app_context():
                deliver_due(app.config)
                db.session.remove()
        except Exception:  # noqa: BLE001 - a database outage must not end the sender
            log.exception("Mail delivery round failed; retrying")
        if not stop.is_set():
            wake.wait(interval)


def _deliver_committed(config, ids: list[int] | None) -> None:
    """Tests only (MAIL_DELIVERY=inline): send what this request queued, after its commit. A
    failure is logged by the unit of work; the job retries the message."""
    if ids:
        deliver_due(config, ids=ids)


_background_lock = threading.Lock()


def _start_background_sender() -> None:
    """Development: one sender thread per serving process, started with its first request;
    ``app.extensions["twtapi_mail_sender"]["stop"]`` ends it."""
    sender = current_app.extensions["twtapi_mail_sender"]
    if sender["pid"] == os.getpid():
        return
    with _background_lock:
        if sender["pid"] != os.getpid():
            sender["pid"] = os.getpid()
            app = current_app._get_current_object()
            threading.Thread(target=follow, args=(app, 0.5, sender["stop"], sender["wake"]), name="twtapi-mail",
                             daemon=True).start()


def register_mail(app: Flask) -> None:
    mode = app.config.get("MAIL_DELIVERY", "queue")
    if mode == "background":
        app.extensions["twtapi_mail_sender"] = {"pid": None, "stop": threading.Event(), "wake": threading.Event()}
        app.before_request(_start_background_sender)
    elif mode not in ("queue", "inline"):
        raise RuntimeError(f"MAIL_DELIVERY must be queue, background or inline, not {mode!r}")
