"""Records opened with a reason: the browser session remembers, for VIEW_GRANT_SECONDS, which
audit entry opened each customer's or organisation's record, so it is shown without asking again
(and each display is audited against that reason)."""

from __future__ import annotations

import time

from flask import session
from flask_login import current_user

from app.audit.models import AuditEntry
from app.extensions import db

VIEW_GRANT_SECONDS = 600  # a record opened with a reason stays open this long (then ask again)
_KEY = "staff_record_views"
_KEPT = 20  # the records one session remembers


def remember(record: str, entry: AuditEntry) -> None:
    """``record`` (``"12"`` for a user, ``"org:5"`` for an organisation) was opened by ``entry``."""
    recent = sorted(session.get(_KEY, {}).items(), key=lambda item: item[1][1])[-(_KEPT - 1):]
    session[_KEY] = {**dict(recent), record: [entry.id, time.time()]}


def opened(record: str) -> AuditEntry | None:
    """The entry that opened ``record`` in this session within the grant, if the same staff member's."""
    grant = session.get(_KEY, {}).get(record)
    entry = db.session.get(AuditEntry, grant[0]) if grant and time.time() - grant[1] < VIEW_GRANT_SECONDS else None
    return entry if entry is not None and entry.actor_id == current_user.id else None
