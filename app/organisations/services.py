"""Organisations and memberships: creating them, finding a person's, choosing the one to work in.
No request, no commit (flush only)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from app.extensions import db
from app.organisations.models import Invitation, Membership, Organisation, Role, TeamAction, TeamEvent

MAX_ORGANISATIONS = 20  # memberships one person may hold (their personal organisation included)


class OrganisationError(ValueError):
    """A change the organisation's rules refuse; the message says why, for the page."""


def create_personal(user, now: datetime) -> Organisation:
    """The personal organisation every account has, with ``user`` as its one owner (made at sign-up)."""
    organisation = Organisation(name=None, personal=True, created_at=now)
    db.session.add(organisation)
    db.session.flush()
    db.session.add(Membership(organisation_id=organisation.id, user_id=user.id, role=Role.OWNER, created_at=now))
    db.session.flush()
    return organisation


def create_organisation(user, name: str, now: datetime) -> Organisation:
    """A new team organisation, owned by ``user``; it starts with no credits and no keys."""
    name = " ".join(name.split())
    if not name:
        raise OrganisationError("An organisation needs a name.")
    organisation = Organisation(name=name[:80], personal=False, created_at=now)
    db.session.add(organisation)
    db.session.flush()
    db.session.add(Membership(organisation_id=organisation.id, user_id=user.id, role=Role.OWNER, created_at=now))
    db.session.add(TeamEvent(organisation_id=organisation.id, created_at=now, actor_id=user.id, by="member",
                             action=TeamAction.ORGANISATION_CREATE, target=organisation.name))
    db.session.flush()
    return organisation


def memberships_of(user_id: int) -> list[Membership]:
    """A person's memberships in open organisations: the personal one first, then by name."""
    rows = db.session.scalars(
        select(Membership).join(Organisation).where(Membership.user_id == user_id, Organisation.closed_at.is_(None))
        .order_by(Organisation.personal.desc(), Organisation.name, Organisation.id)).all()
    return list(rows)


def membership(user_id: int, organisation_id: int | None) -> Membership | None:
    """The person's membership in that (open) organisation, or None."""
    if organisation_id is None:
        return None
    return db.session.scalar(select(Membership).join(Organisation).where(
        Membership.user_id == user_id, Membership.organisation_id == organisation_id,
        Organisation.closed_at.is_(None)))


def personal_organisation(user_id: int) -> Organisation | None:
    """The person's personal organisation (None for an account made before it had one, or erased)."""
    return db.session.scalar(select(Organisation).join(Membership).where(
        Membership.user_id == user_id, Organisation.personal.is_(True)).order_by(Organisation.id).limit(1))


def working_membership(user, chosen: int | None, now: datetime) -> Membership:
    """The membership a signed-in person works in: the chosen organisation while they are still a
    member of it, else their personal one (made now for an account that has none, such as one
    staff created from the command line), else their first."""
    found = membership(user.id, chosen)
    if found is not None:
        return found
    personal = personal_organisation(user.id)
    if personal is None:
        personal = create_personal(user, now)
    own = membership(user.id, personal.id)
    if own is not None:
        return own
    return memberships_of(user.id)[0]


def members_with(organisation_id: int, *roles: Role) -> list:
    """The people holding one of ``roles`` in the organisation (every member when none is named),
    whose accounts are open: whom the organisation's mail goes to."""
    query = select(Membership).where(Membership.organisation_id == organisation_id)
    if roles:
        query = query.where(Membership.role.in_([str(r) for r in roles]))
    found = [m.user for m in db.session.scalars(query.order_by(Membership.id))]
    return [u for u in found if u.erased_at is None and u.closed_at is None]


def owners(organisation_id: int) -> list:
    """The organisation's owners with open accounts."""
    return members_with(organisation_id, Role.OWNER)


def key_contacts(organisation_id: int, creator_id: int | None) -> list:
    """Who hears about a key: its maker while still a member, else the organisation's owners."""
    if creator_id is not None and membership(creator_id, organisation_id) is not None:
        found = membership(creator_id, organisation_id).user
        if found.erased_at is None and found.closed_at is None:
            return [found]
    return owners(organisation_id)


def invitations_to(email: str) -> list[Invitation]:
    """Every invitation sent to an address (a person's export)."""
    return list(db.session.scalars(select(Invitation).where(Invitation.email == email).order_by(Invitation.id)))


def sole_owned_teams(user_id: int) -> list[Organisation]:
    """The open team organisations where ``user_id`` is the only owner: an account cannot close
    while it holds one (hand it over to another member, or close it, first)."""
    owned = db.session.scalars(select(Organisation).join(Membership).where(
        Membership.user_id == user_id, Membership.role == Role.OWNER, Organisation.personal.is_(False),
        Organisation.closed_at.is_(None))).all()
    return [o for o in owned if len(owners(o.id)) <= 1]


def set_personal_closed(user_id: int, when: datetime | None) -> Organisation | None:
    """Close (a time) or reopen (None) the person's personal organisation with their account."""
    personal = personal_organisation(user_id)
    if personal is not None:
        personal.closed_at = when
        db.session.flush()
    return personal
