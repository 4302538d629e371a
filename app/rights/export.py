"""The data export: a ZIP streamed to the browser, built piece by piece, never whole in memory."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Iterator
from datetime import datetime, timedelta

from flask import render_template
from sqlalchemy import or_, select, tuple_

from app import mail_preferences
from app.audit.models import StaffAccess
from app.auth.models import Passkey, SecurityEvent, User, UserSession
from app.billing.models import AlertRecipient, BillingDetails, CreditEntry, Dispute, Order
from app.consent import receipts
from app.consent.models import ConsentRecord, SeparateConsent
from app.contact.models import ContactThread, MessageKind
from app.extensions import db
from app.keys.models import ApiKey
from app.labels import label
from app.organisations import events
from app.organisations import services as organisations
from app.usage.models import ApiCall, UsageDaily

SCHEMA_VERSION = 1
BATCH = 5000


class _Sink(io.RawIOBase):
    """A write-only stream whose bytes are handed out as they are written."""

    def __init__(self):
        self.chunks: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self.chunks.append(bytes(data))
        return len(data)

    def drain(self) -> bytes:
        out = b"".join(self.chunks)
        self.chunks.clear()
        return out


def _iso(value):
    return value.isoformat(timespec="seconds") + "Z" if value.__class__ is datetime else value


# Columns holding a stored state: the export adds its label (the words the pages use) beside it.
LABELLED = {("orders.csv", "status"): "order", ("credit_ledger.csv", "kind"): "credit",
            ("staff_access.csv", "role"): "role", ("staff_access.csv", "category"): "access_category",
            ("separate_consents.csv", "kind"): "separate_consent", ("disputes.csv", "status"): "dispute",
            ("disputes.csv", "reason"): "dispute_reason"}


def _header(name: str, columns: list[str]) -> list[str]:
    out = []
    for column in columns:
        out.append(column)
        if _label_kind(name, column):
            out.append(f"{column}_label")
    return out


def _label_kind(name: str, column: str) -> str | None:
    return LABELLED.get((name, column))


def _rows(model, where, columns, name: str = "") -> Iterator[list]:
    """The rows of ``model`` matching ``where`` as lists of exportable values, in keyset batches
    by time and id (the order of the account's index, so each batch seeks instead of rescanning),
    read as plain column tuples, not ORM objects (a million calls would build a million)."""
    labelled = [_label_kind(name, column) for column in columns]
    keys = [model.created_at, model.id] if "created_at" in model.__table__.c else [model.id]
    statement = select(*keys, *[getattr(model, column) for column in columns]).where(*where).order_by(*keys)
    width, last = len(keys), None
    while True:
        page = statement if last is None else statement.where(tuple_(*keys) > tuple_(*last))
        batch = db.session.execute(page.limit(BATCH)).all()
        if not batch:
            return
        for row in batch:
            values = [_iso(value) for value in row[width:]]
            if any(labelled):
                values = _with_labels(values, labelled)
            yield values
        last = tuple(batch[-1][:width])


def _with_labels(values: list, labelled: list) -> list:
    out = []
    for value, kind in zip(values, labelled, strict=True):
        out.append(value)
        if kind:
            out.append(label(kind, value))
    return out


TABLES = (
    ("sessions.csv", UserSession, ["created_at", "last_seen_at", "ip", "user_agent", "remember", "ended_at",
                                   "end_reason"]),
    ("security_events.csv", SecurityEvent, ["created_at", "tag", "ip", "user_agent"]),
    ("staff_access.csv", StaffAccess, ["created_at", "role", "category", "reference", "reason"]),
    ("passkeys.csv", Passkey, ["name", "created_at", "last_used_at", "discoverable", "backup_eligible", "backed_up",
                               "cloned_at", "aaguid", "transports"]),
    ("api_keys.csv", ApiKey, ["name", "prefix", "created_at", "last_used_at", "revoked_at", "expires_at",
                              "rate_limit_per_minute", "scopes", "allowed_ips", "valid_until", "daily_cap",
                              "monthly_cap"]),
    ("alert_recipients.csv", AlertRecipient, ["email", "created_at", "verified_at"]),
    ("usage_daily.csv", UsageDaily, ["day", "endpoint", "calls", "credits", "errors"]),
    ("api_calls.csv", ApiCall, ["created_at", "request_id", "method", "endpoint", "status", "credits", "latency_ms",
                                "ip"]),
    ("credit_ledger.csv", CreditEntry, ["created_at", "kind", "amount", "reason", "call_id"]),
    ("orders.csv", Order, ["reference", "created_at", "pack_id", "pack_name", "credits", "amount_cents", "currency",
                           "status", "paid_at", "refunded_cents", "tax_cents", "tax_rate",
                           "tax_treatment", "buyer_name", "buyer_address", "buyer_country", "buyer_tax_id"]),
    ("disputes.csv", Dispute, ["received_at", "disputed_at", "amount_cents", "currency", "reason", "status",
                               "credits_held", "closed_at"]),
    ("separate_consents.csv", SeparateConsent, ["given_at", "kind", "locale", "notice_sha256", "withdrawn_at"]),
    ("consent_records.csv", ConsentRecord, ["created_at", "consent_id", "method", "categories", "policy_version",
                                            "locale"]),
)


def _billing_details(organisation_id: int) -> dict:
    details = db.session.get(BillingDetails, organisation_id)
    if details is None:
        return {}
    return {"billing_name": details.name, "billing_address": details.address, "billing_country": details.country,
            "billing_tax_id": details.tax_id}


def _owned_by(model, user_id: int, own: int):
    """The rows of ``model`` that are the person's: their own rows; of the organisation's tables,
    their personal organisation's rows, and the keys they made and orders they placed elsewhere."""
    if model is Dispute:  # a dispute belongs to the account through its order
        return Dispute.order_id.in_(select(Order.id).where(_owned_by(Order, user_id, own)))
    if model is ApiKey:
        return or_(ApiKey.organisation_id == own, ApiKey.created_by_id == user_id)
    if model is Order:
        return or_(Order.organisation_id == own, Order.placed_by_id == user_id)
    if "organisation_id" in model.__table__.c:
        return model.organisation_id == own
    return model.user_id == user_id


def write_csv(archive, sink, name: str, model, where: list, columns: list[str]):
    """Write one CSV member of the ZIP in batches, yielding the bytes made so far; returns the row count."""
    with archive.open(name, "w", force_zip64=True) as member:
        text = io.TextIOWrapper(member, encoding="utf-8", newline="")
        writer = csv.writer(text)
        writer.writerow(_header(name, columns))
        count = 0
        for row in _rows(model, where, columns, name):
            writer.writerow(row)
            count += 1
            if count % 1000 == 0:
                text.flush()
                yield sink.drain()
        text.flush()
        text.detach()
    yield sink.drain()
    return count


def export_zip(user: User, config, locale: str, now: datetime) -> Iterator[bytes]:
    """Yield the bytes of the export ZIP for ``user``, file by file and batch by batch: the
    person's own data, their personal organisation's, and what they did in team organisations."""
    personal = organisations.personal_organisation(user.id)
    own = personal.id if personal is not None else -1
    sink = _Sink()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        profile = {
            "email": user.email, "nickname": user.nickname, "language": user.locale,
            "created_at": _iso(user.created_at), "email_verified_at": _iso(user.email_verified_at),
            "age_confirmed_at": _iso(user.age_confirmed_at), "two_factor": user.has_2fa,
            "accepted_privacy_version": user.accepted_privacy_version,
            "accepted_terms_version": user.accepted_terms_version,
            "credit_balance": personal.credit_balance if personal else 0,
            "alert_thresholds": personal.alert_thresholds if personal else None,
            "monthly_spend_limit": personal.monthly_spend_limit if personal else None,
            **_billing_details(own),
        }
        counts = {}
        for name, model, columns in TABLES:
            where = [_owned_by(model, user.id, own)]
            if model is ApiCall:
                where.append(ApiCall.created_at >= now - timedelta(days=config["CALL_LOG_DAYS"]))
            counts[name] = yield from write_csv(archive, sink, name, model, where, columns)
        archive.writestr("organisations.json", json.dumps({
            "memberships": [{"organisation": m.organisation.display_name, "personal": m.organisation.personal,
                             "role": m.role, "role_label": label("member_role", m.role),
                             "member_since": _iso(m.created_at)} for m in organisations.memberships_of(user.id)],
            "activity": [{**events.as_row(e), "organisation": e.organisation.display_name}
                         for e in events.by_person(user.id)],
            "invitations": [{"organisation": i.organisation.display_name, "role": i.role,
                             "sent_at": _iso(i.created_at), "accepted_at": _iso(i.accepted_at),
                             "revoked_at": _iso(i.revoked_at), "expires_at": _iso(i.expires_at)}
                            for i in organisations.invitations_to(user.email)],
        }, ensure_ascii=False, indent=2))
        threads = []
        for thread in db.session.scalars(select(ContactThread).where(ContactThread.user_id == user.id)):
            threads.append({"reference": thread.reference, "topic": thread.topic,
                            "topic_label": label("topic", thread.topic), "status": thread.status,
                            "status_label": label("thread", thread.status),
                            "created_at": _iso(thread.created_at),
                            "messages": [{"from": m.kind, "at": _iso(m.created_at), "text": m.body}
                                         for m in thread.messages if m.kind != MessageKind.NOTE]})
        archive.writestr("support_threads.json", json.dumps(threads, ensure_ascii=False, indent=2))
        consents = [receipts.receipt(record, config) for record in db.session.scalars(
            select(ConsentRecord).where(ConsentRecord.user_id == user.id).order_by(ConsentRecord.created_at))]
        archive.writestr("consent_receipts.json", json.dumps(consents, ensure_ascii=False, indent=2))
        archive.writestr("mail_preferences.json", json.dumps(mail_preferences.export_rows(user.id),
                                                             ensure_ascii=False, indent=2))
        profile_csv = io.StringIO()
        csv.writer(profile_csv).writerows([list(profile), list(profile.values())])
        archive.writestr("profile.csv", profile_csv.getvalue())
        archive.writestr("data.json", json.dumps({
            "schema_version": SCHEMA_VERSION, "generated_at": _iso(now), "site": config["SITE_NAME"],
            "profile": profile, "files": counts, "support_threads": len(threads),
        }, ensure_ascii=False, indent=2))
        archive.writestr("README.html", render_template("rights/export_readme.html", profile=profile, counts=counts,
                                                        locale=locale))
        yield sink.drain()
    yield sink.drain()
