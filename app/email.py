"""E-mail: the outbox, templates and delivery.

Mail is rendered from ``templates/email/<name>/{subject.txt,body.txt,body.html}`` in the
recipient's language and queued in the outbox table inside the caller's transaction. After the
request commits, the queued messages are delivered; whatever fails stays queued and
``flask mail send-queued`` retries it with back-off, so nothing is lost while the SMTP server is
down. A delivered message keeps only its envelope (recipient, subject, time) until the retention
job deletes it; its bodies, which may carry one-time links, are wiped at delivery.

Transports: SMTP from ``MAIL_URL`` (``smtp://``, ``smtps://``, ``smtp+starttls://``), or, when it
is unset, ``.eml`` files under ``MAIL_DIR`` (development).
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from urllib.parse import unquote, urlsplit

from flask import Flask, current_app, g, has_request_context, render_template
from flask_babel import force_locale
from sqlalchemy import select
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.retention import PERSONAL, Rule, register
from app.timeutil import utcnow

log = logging.getLogger(__name__)

MAX_BACKOFF = timedelta(hours=6)


class OutboxMessage(db.Model):
    __tablename__ = "outbox_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    template: Mapped[str] = mapped_column(db.String(60))
    locale: Mapped[str] = mapped_column(db.String(16))
    recipient: Mapped[str] = mapped_column(db.String(254), info=PERSONAL)
    subject: Mapped[str] = mapped_column(db.String(255), info=PERSONAL)
    body_text: Mapped[str] = mapped_column(db.Text, info=PERSONAL)
    body_html: Mapped[str] = mapped_column(db.Text, info=PERSONAL)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    last_error: Mapped[str | None] = mapped_column(db.String(500))
    sent_at: Mapped[datetime | None] = mapped_column(index=True)


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


def queue_email(recipient: str, template: str, locale: str | None = None, **context) -> OutboxMessage:
    """Queue a message in the current transaction; it is sent once the transaction commits."""
    locale = locale or current_app.config["BABEL_DEFAULT_LOCALE"]
    subject, text, html = render_email(template, locale, **context)
    message = OutboxMessage(
        template=template, locale=locale, recipient=recipient, subject=subject, body_text=text, body_html=html
    )
    db.session.add(message)
    db.session.flush()
    if has_request_context():
        g.setdefault("outbox_ids", []).append(message.id)
    return message


def outbox_backlog(now: datetime) -> tuple[int, int]:
    """Undelivered messages, and the age in seconds of the oldest (0 when none)."""
    from sqlalchemy import func

    count, oldest = db.session.execute(
        select(func.count(), func.min(OutboxMessage.created_at)).where(OutboxMessage.sent_at.is_(None))).one()
    return int(count), int((now - oldest).total_seconds()) if oldest else 0


def _build(message: OutboxMessage, sender: str) -> EmailMessage:
    mail = EmailMessage()
    mail["Subject"] = message.subject
    mail["From"] = sender
    mail["To"] = message.recipient
    mail["Date"] = formatdate(localtime=False)
    mail["Message-ID"] = make_msgid(domain=sender.rsplit("@", 1)[-1].strip("> ") or None)
    mail["Auto-Submitted"] = "auto-generated"
    mail.set_content(message.body_text)
    mail.add_alternative(message.body_html, subtype="html")
    mail["Content-Language"] = message.locale.replace("_", "-")  # after set_content, which clears it
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


def deliver_due(config, now: datetime | None = None, ids: list[int] | None = None, limit: int = 200) -> dict:
    """Send queued messages that are due (or exactly ``ids``); commit after each one.

    Returns counts of ``sent`` and ``failed``. A failure records the error class (never the
    message body) and schedules the next attempt with back-off.
    """
    now = now or utcnow()
    query = select(OutboxMessage).where(OutboxMessage.sent_at.is_(None))
    query = query.where(OutboxMessage.id.in_(ids)) if ids else query.where(OutboxMessage.next_attempt_at <= now)
    counts = {"sent": 0, "failed": 0}
    for message in db.session.scalars(query.order_by(OutboxMessage.id).limit(limit)).all():
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
            counts["sent"] += 1
        db.session.commit()
    return counts


def _deliver_after_request(response):
    """Send what this request queued, now that its transaction has committed."""
    ids = g.pop("outbox_ids", None)
    if ids:
        try:
            db.session.rollback()  # anything uncommitted by the view is not ours to send
            deliver_due(current_app.config, ids=ids)
        except Exception:  # noqa: BLE001 - the job retries; the visitor's request still succeeds
            db.session.rollback()
            log.exception("Delivering queued mail after the request failed; the job will retry")
    return response


def register_mail(app: Flask) -> None:
    app.after_request(_deliver_after_request)
