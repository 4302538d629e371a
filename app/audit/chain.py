"""The audit log's hash chain (OWASP ASVS 5.0 16.4.2): each entry's ``row_hash`` is an HMAC of its
fields and the previous entry's ``row_hash``; its ``target_seal`` an HMAC of its target, the one
field pseudonymisation may rewrite (and then seals again). The key is derived from ``SECRET_KEY``,
so someone with the database alone can neither alter an entry nor forge a chain around a removed
or inserted one. Appends take the chain head's row lock, so entries are chained in one order.

The chain is anchored (``AuditChainAnchor``): the first sealed entry is recorded once, with the
genesis value as its ``prev_hash``, in the application log and in a table the ORM never changes;
the retention purge, which removes the oldest entries, records the new start in its own
transaction. ``verify`` requires the chain to begin where its newest valid anchor says, and every
entry from the genesis anchor's on to be sealed: clearing the seals of old entries to rewrite them
shows as tampering, naming each. What it cannot see: the newest entries removed together with the
head set back, or the anchors, head and seals all removed (compare the anchor and the head with an
off-site copy of the log or of ``flask audit verify``'s output for that).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass, field
from datetime import datetime

from flask import current_app
from sqlalchemy import delete, func, select, update

from app.audit.models import AnchorKind, AuditChainAnchor, AuditChainHead, AuditEntry
from app.database import insert_once, lock_row
from app.extensions import db
from app.retention import Rule, register
from app.timeutil import utcnow
from app.uow import commit_now

log = logging.getLogger(__name__)

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


def anchor_seal(key: bytes, kind: str, entry_id: int, prev_hash: str, entry_hash: str | None) -> str:
    """The same formula is in the migration that anchored existing logs (f5c3a9e1d7b4)."""
    return _mac(key, "anchor", kind, entry_id, prev_hash, entry_hash)


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


def anchor_if_first(entry: AuditEntry) -> None:
    """After the first sealed entry is inserted (the head's lock still held): record the chain's
    genesis anchor, once, in the table and in the log."""
    if entry.prev_hash != GENESIS or genesis() is not None:
        return
    _write_anchor(AnchorKind.GENESIS, entry.id, GENESIS, entry.row_hash, entry.created_at)


def _write_anchor(kind: AnchorKind, entry_id: int, prev_hash: str, entry_hash: str | None,
                  now: datetime) -> AuditChainAnchor:
    anchor = AuditChainAnchor(kind=kind, entry_id=entry_id, prev_hash=prev_hash, entry_hash=entry_hash,
                              created_at=now, seal=anchor_seal(_key(), kind, entry_id, prev_hash, entry_hash))
    db.session.add(anchor)
    db.session.flush()
    log.info("audit chain anchor (%s): from entry #%s, prev_hash %s, entry hash %s", kind, entry_id, prev_hash,
             entry_hash or "none (no entry left)")
    return anchor


def genesis() -> AuditChainAnchor | None:
    """The anchor where the chain began (None before the first sealed entry)."""
    return db.session.scalar(select(AuditChainAnchor).where(AuditChainAnchor.kind == AnchorKind.GENESIS)
                             .order_by(AuditChainAnchor.id).limit(1))


def reseal_target(row: str | None, target: str | None) -> str | None:
    """The seal of a pseudonymised target (None for an entry from before the chain)."""
    return target_seal(_key(), row, target) if row else None


# --- the retention purge: the chain is cut at its start only, and re-anchored in the same transaction ----------


def _expired(cutoff: datetime):
    """Entries older than ``cutoff`` and every entry before them: the chain loses its oldest part
    only, never one from its middle (an entry chained after a later-dated one stays as long as it)."""
    kept = select(func.min(AuditEntry.id)).where(AuditEntry.created_at >= cutoff).scalar_subquery()
    return AuditEntry.id < func.coalesce(kept, select(func.max(AuditEntry.id) + 1).scalar_subquery())


def purge_expired(cutoff: datetime) -> int:
    """Delete the expired start of the log in batches; each batch, under the head's lock, writes the
    anchor naming the new first entry before it commits, so ``verify`` never sees a cut chain
    without its anchor. Return the entries deleted."""
    total = 0
    while True:
        lock_row(AuditChainHead.__table__, 1)
        ids = list(db.session.scalars(select(AuditEntry.id).where(_expired(cutoff)).order_by(AuditEntry.id)
                                      .limit(BATCH)))
        if not ids:
            commit_now("audit purge: release the chain head's lock")
            return total
        sealed = db.session.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.id.in_(ids), AuditEntry.row_hash.is_not(None)))
        db.session.execute(delete(AuditEntry).where(AuditEntry.id.in_(ids))
                           .execution_options(retention_purge=True, synchronize_session=False))
        if sealed:  # the chain's start went (not only entries from before it)
            _reanchor(ids[-1], utcnow())
        commit_now("audit purge: each batch with its anchor, under the head's lock, in a short transaction")
        total += len(ids)


def _reanchor(last_deleted: int, now: datetime) -> None:
    first = db.session.execute(select(AuditEntry.id, AuditEntry.prev_hash, AuditEntry.row_hash)
                               .where(AuditEntry.row_hash.is_not(None)).order_by(AuditEntry.id).limit(1)).first()
    if first is not None:
        _write_anchor(AnchorKind.RETENTION, first.id, first.prev_hash, first.row_hash, now)
    else:
        head = db.session.scalar(select(AuditChainHead.last_hash).where(AuditChainHead.id == 1))
        _write_anchor(AnchorKind.RETENTION, last_deleted + 1, head, None, now)


register(Rule(
    name="audit_log.expired",
    model=AuditEntry,
    action="delete",
    days_setting="AUDIT_RETENTION_DAYS",
    default_days=730,
    description="Audit entries are kept N days (24 months) for security reviews, then deleted.",
    selects=_expired,
    prepare=purge_expired,
))


# --- verification -------------------------------------------------------------------------------------------


@dataclass
class Report:
    """What ``verify`` found: entries checked, unsealed ones from before the chain, problems, and
    where the chain began (genesis) and starts now (the newest valid anchor)."""

    checked: int = 0
    unsealed: int = 0
    problems: list[str] = field(default_factory=list)
    genesis: AuditChainAnchor | None = None
    start: AuditChainAnchor | None = None
    head: str | None = None

    @property
    def intact(self) -> bool:
        return not self.problems


def _anchors(key: bytes, report: Report) -> None:
    anchors = list(db.session.scalars(select(AuditChainAnchor).order_by(AuditChainAnchor.id)))
    for anchor in anchors:
        if anchor.seal != anchor_seal(key, anchor.kind, anchor.entry_id, anchor.prev_hash, anchor.entry_hash):
            report.problems.append(f"anchor #{anchor.id}: forged or altered")
            continue
        if anchor.kind == AnchorKind.GENESIS:
            if report.genesis is not None:
                report.problems.append(f"anchor #{anchor.id}: a second start of the chain")
                continue
            if anchor.prev_hash != GENESIS:
                report.problems.append(f"anchor #{anchor.id}: the chain's start does not link to the genesis value")
                continue
            report.genesis = anchor
        elif report.genesis is None:
            report.problems.append(f"anchor #{anchor.id}: a retention anchor with no start of the chain before it")
            continue
        report.start = anchor


def verify(config) -> Report:
    """Check the anchors, then every entry's seals and links in id order: the first sealed entry
    is the newest anchor's and links to what it recorded; no entry from the genesis anchor's on is
    unsealed; the head matches the newest entry."""
    key, report = _key(config), Report()
    _anchors(key, report)
    report.head = db.session.scalar(select(AuditChainHead.last_hash).where(AuditChainHead.id == 1))
    start = report.start
    # Before the genesis anchor's entry, unsealed entries are from before the chain; once the purge
    # has cut the chain, those went first (it cuts in id order), so no unsealed entry is left.
    began = None if report.genesis is None else 0 if start.kind == AnchorKind.RETENTION else report.genesis.entry_id
    previous, last_id, unsealed_after = None, 0, []
    while True:
        entries = list(db.session.scalars(select(AuditEntry).where(AuditEntry.id > last_id)
                                          .order_by(AuditEntry.id).limit(BATCH)))
        if not entries:
            break
        for entry in entries:
            last_id = entry.id
            if entry.row_hash is None:
                if (began is not None and entry.id >= began) or previous is not None:
                    unsealed_after.append(entry.id)
                else:
                    report.unsealed += 1
                continue
            report.checked += 1
            if previous is None and start is not None:
                if start.entry_hash is not None and entry.id < start.entry_id:
                    report.problems.append(f"entry #{entry.id}: sealed, yet before the chain's start "
                                           f"(#{start.entry_id})")
                elif start.entry_hash is not None and entry.id != start.entry_id:
                    report.problems.append(f"entry #{entry.id}: the chain's first entry should be #{start.entry_id} "
                                           "(it, or its seal, was removed)")
                elif entry.prev_hash != start.prev_hash or (start.entry_hash and entry.row_hash != start.entry_hash):
                    report.problems.append(f"entry #{entry.id}: does not link to the chain's anchor "
                                           "(the entries before it were removed or replaced)")
            elif previous is not None and entry.prev_hash != previous:
                report.problems.append(f"entry #{entry.id}: the entry before it was removed or replaced")
            if row_hash(key, entry, entry.prev_hash or "") != entry.row_hash:
                report.problems.append(f"entry #{entry.id}: altered")
            elif target_seal(key, entry.row_hash, entry.target) != entry.target_seal:
                report.problems.append(f"entry #{entry.id}: its target was altered")
            previous = entry.row_hash
        db.session.expunge_all()
    if unsealed_after:
        shown = ", ".join(f"#{n}" for n in unsealed_after[:50]) + (" …" if len(unsealed_after) > 50 else "")
        report.problems.append(f"{len(unsealed_after)} entries after the chain began have no seal (removed to "
                               f"rewrite them): {shown}")
    if report.genesis is None and (previous is not None or (report.head or GENESIS) != GENESIS):
        report.problems.append("the chain's anchor is missing (its start was removed)")
    if previous is None and start is not None and start.entry_hash is not None:
        report.problems.append(f"entry #{start.entry_id}: the chain's first entry and every one after it were removed")
    if previous is not None and report.head is not None and report.head != previous:
        report.problems.append("the newest entries were removed (the chain's head points past the last entry)")
    return report
