"""A team organisation for the tests of the shared balance, keys and usage: several members (each
with their own personal organisation, as sign-up makes it), added to one team with ``Membership``
rows, each who may with a key of the team made by them; and a member's browser working in it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from app.billing.services import add_credits
from app.extensions import db as _db
from app.organisations.models import Membership, Organisation, Role
from app.timeutil import utcnow
from tests.fixtures.factories import ApiKeyFactory, UserFactory
from tests.fixtures.visitor import AuthActions, submit

ROLES = (Role.OWNER, Role.DEVELOPER, Role.ADMIN, Role.DEVELOPER)


@dataclass(frozen=True)
class Team:
    organisation_id: int
    member_ids: list[int]  # in the order of ``roles``
    emails: list[str]
    secrets: list[str]  # the key each member who may manage keys made, in the order of ``roles``
    key_ids: list[int]


def add_member(organisation_id: int, user, role: Role) -> Membership:
    """``user`` joins the organisation with ``role`` (flushed, not committed)."""
    membership = Membership(organisation_id=organisation_id, user_id=user.id, role=role, created_at=utcnow())
    _db.session.add(membership)
    _db.session.flush()
    return membership


def make_team(app, credits: int, roles=ROLES, rate_limit: int | None = None, name: str = "Acme Analytics",
              keys: bool = True) -> Team:
    """A team organisation holding ``credits``, one member per role of ``roles`` and, unless
    ``keys`` is False, a key made by each member whose role may manage keys. Committed."""
    tag = uuid.uuid4().hex[:8]
    with app.test_request_context():
        now = utcnow()
        organisation = Organisation(name=name, personal=False, created_at=now)
        _db.session.add(organisation)
        _db.session.flush()
        people = [UserFactory(email=f"{role}-{n}-{tag}@example.com", created_at=now) for n, role in enumerate(roles)]
        for person, role in zip(people, roles, strict=True):
            add_member(organisation.id, person, role)
        if credits:
            add_credits(organisation, credits, "purchase", now)
        made = [ApiKeyFactory(user=person, organisation=organisation, name=f"{role} key", rate_limit=rate_limit)
                for person, role in zip(people, roles, strict=True)
                if keys and role in (Role.OWNER, Role.ADMIN, Role.DEVELOPER)]
        _db.session.commit()
        return Team(organisation.id, [p.id for p in people], [p.email for p in people], [k.secret for k in made],
                    [k.id for k in made])


def signed_in_member(app, outbox, email: str, organisation_id: int):
    """A browser of the member with ``email``, signed in and working in ``organisation_id`` (chosen
    as the header menu does)."""
    client = app.test_client()
    assert AuthActions(client, outbox).login(email).status_code == 303
    chosen = submit(client, "/account/organisations", {"organisation": organisation_id},
                    action="/account/organisation")
    assert chosen.status_code == 303, chosen.get_data(as_text=True)[:300]
    return client
