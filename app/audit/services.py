"""Writing the audit log, and the guard that keeps it append-only.

Chain anchors (``AuditChainAnchor``) are never changed or removed at all. Of entries, only two
kinds of change are ever allowed, both through explicit execution options: the
retention purge deleting entries past their period (``retention_purge``) and pseudonymising the
subject of an erased customer (``audit_pseudonymise``). Anything else that would update or
delete an entry raises ``AuditLogIsAppendOnly``.
"""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import event, func, select, update
from sqlalchemy.orm import Session

from app.audit import chain
from app.audit.models import AuditChainAnchor, AuditEntry
from app.extensions import db


class AuditLogIsAppendOnly(RuntimeError):
    """Raised on any attempt to change or remove an audit entry."""


def record(actor, action: str, now: datetime, target_user=None, target: str | None = None,
           reason: str | None = None, ip: str | None = None) -> AuditEntry:
    """Append an entry: ``actor`` (a staff user) did ``action`` to ``target_user``/``target``."""
    entry = AuditEntry(
        created_at=now, actor_id=actor.id if actor else None, actor_label=actor.email if actor else "system",
        action=action, target_user_id=target_user.id if target_user else None,
        target=target or (target_user.email if target_user else None), reason=(reason or None), ip=ip,
    )
    chain.seal(entry)
    db.session.add(entry)
    db.session.flush()
    chain.anchor_if_first(entry)
    return entry


def pseudonymise_subject(user_id: int, pseudonym: str) -> int:
    """Replace an erased customer's identity in the entries about them (sealed again); return how
    many changed."""
    rows = db.session.execute(select(AuditEntry.id, AuditEntry.row_hash)
                              .where(AuditEntry.target_user_id == user_id)).all()
    for entry_id, row in rows:
        _set_target(entry_id, row, pseudonym)
    return len(rows)


def pseudonymise_text(needle: str, replacement: str) -> int:
    """Replace ``needle`` (any case) in the targets that name it, e.g. an erased person's address
    in "SUP-… <address>"; return how many entries changed."""
    pattern = re.compile(re.escape(needle), re.IGNORECASE)
    rows = db.session.execute(select(AuditEntry.id, AuditEntry.target, AuditEntry.row_hash).where(
        func.lower(AuditEntry.target).contains(needle.lower()))).all()
    for entry_id, target, row in rows:
        _set_target(entry_id, row, pattern.sub(replacement, target))
    return len(rows)


def _set_target(entry_id: int, row: str | None, target: str) -> None:
    db.session.execute(update(AuditEntry).where(AuditEntry.id == entry_id)
                       .values(target=target, target_seal=chain.reseal_target(row, target))
                       .execution_options(audit_pseudonymise=True, synchronize_session=False))


@event.listens_for(Session, "before_flush")
def _refuse_changes(session, flush_context, instances):
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, AuditEntry | AuditChainAnchor) and (obj in session.deleted or session.is_modified(obj)):
            raise AuditLogIsAppendOnly("Audit entries and the chain's anchors cannot be changed or deleted.")


@event.listens_for(Session, "do_orm_execute")
def _refuse_bulk_changes(state):
    if not (state.is_update or state.is_delete):
        return
    name = getattr(getattr(state.statement, "table", None), "name", None)
    if name == AuditChainAnchor.__tablename__:
        raise AuditLogIsAppendOnly("The audit chain's anchors cannot be changed or deleted.")
    if state.execution_options.get("retention_purge") or state.execution_options.get("audit_pseudonymise"):
        return
    if name == AuditEntry.__tablename__:
        raise AuditLogIsAppendOnly("Audit entries cannot be changed or deleted.")
