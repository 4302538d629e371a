"""The audit log's hash chain (OWASP ASVS 5.0 16.4.2): each entry's ``row_hash`` is an HMAC of its
fields and the previous entry's ``row_hash``; its ``target_seal`` an HMAC of its target, the one
field pseudonymisation may rewrite (and then seals again). The key is derived from ``SECRET_KEY``,
so someone with the database alone can neither alter an entry nor forge a chain around a removed
or inserted one. Appends take the chain head's row lock, so entries are chained in one order.

``verify`` walks the log in id order. What it cannot see: the newest entries removed together
with the head set back (compare the head with an off-site copy of the log for that).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field

from flask import current_app
from sqlalchemy import select, update

from app.audit.models import AuditChainHead, AuditEntry
from app.database import insert_once, lock_row
from app.extensions import db

GENESIS = "0" * 64
BATCH = 1000


def _key(config=None) -> bytes:
    secret = (config or current_app.config)["SECRET_KEY"]
    return hashlib.sha256(b"twtapi-audit-chain:" + secret.encode()).digest()


def _mac(key: bytes, *parts) -> str:
    text = "\x1f".join("" if p is None else str(p) for p in parts)
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


def row_hash(key: bytes, entry: AuditEntry, prev: str) -> str:
    created = entry.created_at.isoformat(timespec="microseconds")
    return _mac(key, prev, created, entry.actor_id, entry.actor_label, entry.action, entry.target_user_id,
                entry.reason, entry.ip)


def target_seal(key: bytes, sealed_row: str, target: str | None) -> str:
    return _mac(key, "target", sealed_row, target)


def seal(entry: AuditEntry) -> None:
    """Chain a new entry (before it is inserted): lock the head, link, seal, move the head."""
    table = AuditChainHead.__table__
    insert_once(table, id=1, last_hash=GENESIS)
    lock_row(table, 1)
    prev = db.session.scalar(select(table.c.last_hash).where(table.c.id == 1))
    key = _key()
    entry.prev_hash = prev
    entry.row_hash = row_hash(key, entry, prev)
    entry.target_seal = target_seal(key, entry.row_hash, entry.target)
    db.session.execute(update(table).where(table.c.id == 1).values(last_hash=entry.row_hash))


def reseal_target(row: str | None, target: str | None) -> str | None:
    """The seal of a pseudonymised target (None for an entry from before the chain)."""
    return target_seal(_key(), row, target) if row else None


@dataclass
class Report:
    """What ``verify`` found: entries checked, unsealed ones from before the chain, problems."""

    checked: int = 0
    unsealed: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return not self.problems


def verify(config) -> Report:
    """Check every entry's seals and links, in id order, and the head against the newest entry."""
    key, report = _key(config), Report()
    previous, last_id = None, 0
    while True:
        entries = list(db.session.scalars(select(AuditEntry).where(AuditEntry.id > last_id)
                                          .order_by(AuditEntry.id).limit(BATCH)))
        if not entries:
            break
        for entry in entries:
            last_id = entry.id
            if entry.row_hash is None:
                if previous is not None:
                    report.problems.append(f"entry #{entry.id}: its seal was removed")
                else:
                    report.unsealed += 1
                continue
            report.checked += 1
            if previous is not None and entry.prev_hash != previous:
                report.problems.append(f"entry #{entry.id}: the entry before it was removed or replaced")
            if row_hash(key, entry, entry.prev_hash or "") != entry.row_hash:
                report.problems.append(f"entry #{entry.id}: altered")
            elif target_seal(key, entry.row_hash, entry.target) != entry.target_seal:
                report.problems.append(f"entry #{entry.id}: its target was altered")
            previous = entry.row_hash
        db.session.expunge_all()
    head = db.session.scalar(select(AuditChainHead.last_hash).where(AuditChainHead.id == 1))
    if previous is not None and head is not None and head != previous:
        report.problems.append("the newest entries were removed (the chain's head points past the last entry)")
    return report
