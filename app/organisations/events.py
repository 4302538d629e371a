"""The team audit log: who did what in an organisation, shown to its members, exported as CSV
and JSON and with the organisation's data. No request, no commit (flush only).

An entry names its actor and the member it concerns by user id; their names are read when the
log is shown, so erasing a person pseudonymises them here too (the account row keeps only
``erased-user-N``), and a deleted account shows as a former member.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select

from app.extensions import db
from app.labels import label
from app.organisations.models import TeamAction, TeamEvent

__all__ = ["EventFilter", "TeamAction", "TeamEvent", "actor_name", "as_row", "every", "page", "person", "record"]


def record(organisation_id: int, actor, action: TeamAction, now: datetime, *, subject=None,
           target: str | None = None, by: str = "member") -> TeamEvent:
    """Append an entry: ``actor`` (a User; None for the system) did ``action``; ``by`` says whether
    the actor acted as a member of the organisation or as our staff."""
    event = TeamEvent(organisation_id=organisation_id, created_at=now, actor_id=actor.id if actor else None,
                      by="system" if actor is None else by, action=action, subject_id=subject.id if subject else None,
                      target=(target or None) and target[:300])
    db.session.add(event)
    db.session.flush()
    return event


PAGE_SIZE = 50


@dataclass(frozen=True)
class EventFilter:
    """The log's filters: an action group ("key", "member", "billing"), a member, a day range."""

    group: str | None = None
    actor_id: int | None = None
    since: date | None = None
    until: date | None = None

    def where(self, organisation_id: int) -> list:
        clauses = [TeamEvent.organisation_id == organisation_id]
        if self.group:
            clauses.append(TeamEvent.action.startswith(f"{self.group}:"))
        if self.actor_id:
            clauses.append(TeamEvent.actor_id == self.actor_id)
        if self.since:
            clauses.append(TeamEvent.created_at >= datetime.combine(self.since, datetime.min.time()))
        if self.until:
            clauses.append(TeamEvent.created_at < datetime.combine(self.until + timedelta(days=1),
                                                                   datetime.min.time()))
        return clauses


def page(organisation_id: int, filters: EventFilter, before: int | None = None,
         size: int = PAGE_SIZE) -> tuple[list[TeamEvent], int | None]:
    """Newest first, ``size`` at a time: the entries and the id to continue before (None: the end)."""
    query = select(TeamEvent).where(*filters.where(organisation_id))
    if before:
        query = query.where(TeamEvent.id < before)
    rows = list(db.session.scalars(query.order_by(TeamEvent.id.desc()).limit(size + 1)))
    return rows[:size], (rows[size - 1].id if len(rows) > size else None)


def every(organisation_id: int, filters: EventFilter | None = None):
    """Every entry, oldest first, in batches (for the exports)."""
    query = select(TeamEvent).where(*(filters or EventFilter()).where(organisation_id)).order_by(TeamEvent.id)
    last = 0
    while True:
        batch = list(db.session.scalars(query.where(TeamEvent.id > last).limit(1000)))
        if not batch:
            return
        yield from batch
        last = batch[-1].id


def person(user, staff: bool = False) -> str:
    """How the log names a person: their name (a pseudonym once erased); our staff by role only."""
    if staff:
        return str(_l("%(site)s staff", site=current_app.config["SITE_NAME"]))
    if user is None:
        return str(_l("a former member"))
    return user.display_name


def actor_name(event: TeamEvent) -> str:
    if event.by == "system":
        return str(_l("automatic"))
    return person(event.actor, staff=event.by == "staff")


def as_row(event: TeamEvent) -> dict:
    """An entry for the CSV and JSON exports."""
    return {"time": event.created_at.isoformat(timespec="seconds") + "Z", "action": event.action,
            "action_label": label("team_action", event.action), "by": event.by, "actor": actor_name(event),
            "member": person(event.subject) if event.subject_id else "", "target": event.target or ""}


def by_person(user_id: int) -> list[TeamEvent]:
    """What a person did, or what was done about them, in any organisation (their data export),
    oldest first."""
    return list(db.session.scalars(select(TeamEvent).where(
        or_(TeamEvent.actor_id == user_id, TeamEvent.subject_id == user_id)).order_by(TeamEvent.id)))
