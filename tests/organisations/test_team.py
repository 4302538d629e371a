"""A team through the pages: invitations by e-mail (signed, single-use, expiring, revocable, for
one address), roles, removal (with the keys the member made) and leaving."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select, update

from app.auth.models import User
from app.billing.services import add_credits
from app.extensions import db
from app.organisations.models import Invitation, Membership, Organisation, Role
from app.rights.services import close_account, erase_account
from tests.fixtures.factories import ApiKeyFactory, UserFactory
from tests.fixtures.visitor import SAME_ORIGIN, AuthActions, bearer, form_token, link_in, submit


def _team(app) -> Organisation:
    with app.app_context():
        return db.session.scalar(select(Organisation).where(Organisation.name == "Acme"))


@pytest.fixture
def owner(app, client, outbox):
    """Alice, signed in, owner of the team organisation Acme and working in it."""
    auth = AuthActions(client, outbox)
    auth.register("alice@example.com")
    auth.login("alice@example.com")
    assert submit(client, "/account/organisations", {"name": "Acme"}).status_code == 303
    return client


def _invite(client, email, role="developer"):
    return submit(client, "/account/team", {"email": email, "role": role}, action="/account/team/invitations")


def _invitation_path(outbox, email) -> str:
    message = next(m for m in reversed(outbox) if m["To"] == email)
    return link_in(message, "/invitations/")


def test_an_invited_developer_signs_up_accepts_and_the_owner_is_told(app, owner, outbox):
    response = _invite(owner, "Dev@Example.com")
    assert response.status_code == 303
    page = owner.get("/account/team").get_data(as_text=True)
    assert "Invitation sent to Dev@Example.com" in page and "dev@example.com" in page  # listed as open
    path = _invitation_path(outbox, "dev@example.com")
    assert "Alice invites you to Acme" in next(m for m in outbox if m["To"] == "dev@example.com")["Subject"]

    dev = app.test_client()
    landing = dev.get(path).get_data(as_text=True)
    assert "Join Acme" in landing and "Sign in, or sign up" in landing
    AuthActions(dev, outbox).register("dev@example.com", nickname="Dev")
    AuthActions(dev, outbox).login("dev@example.com")
    accepted = submit(dev, path, {})
    assert accepted.status_code == 303
    dashboard = dev.get(accepted.headers["Location"]).get_data(as_text=True)
    assert "Welcome to Acme" in dashboard and "Organisation: <strong>Acme</strong>" in dashboard
    joined = next(m for m in reversed(outbox) if m["To"] == "alice@example.com")
    assert "Dev joined Acme" in joined["Subject"]
    team = owner.get("/account/team").get_data(as_text=True)
    assert "Dev" in team and "Developer" in team
    assert submit(dev, "/account", {}, action=path).status_code == 404  # single use


def test_an_invitation_says_the_same_whether_the_address_has_an_account(app, owner, outbox):
    with app.app_context():
        UserFactory(email="known@example.com")
        db.session.commit()
    known = _invite(owner, "known@example.com")
    unknown = _invite(owner, "nobody@example.com")
    assert known.status_code == unknown.status_code == 303
    assert "Invitation sent to" in owner.get("/account/team").get_data(as_text=True)
    bodies = {m["To"]: m.get_body(("plain",)).get_content() for m in outbox if "/invitations/" in str(m)}
    shape = {re.sub(r"https?://\S+", "LINK", b) for b in bodies.values()}
    assert len(shape) == 1  # the same mail to both, but for the link


def test_another_address_cannot_accept_and_a_tampered_link_is_refused(app, owner, outbox):
    _invite(owner, "dev@example.com")
    path = _invitation_path(outbox, "dev@example.com")
    eve = app.test_client()
    AuthActions(eve, outbox).register("eve@example.com")
    AuthActions(eve, outbox).login("eve@example.com")
    assert "signed in with another e-mail address" in eve.get(path).get_data(as_text=True)
    refused = submit(eve, path, {})
    assert refused.status_code == 303 and refused.headers["Location"] == path
    with app.app_context():
        assert db.session.scalar(select(Invitation.accepted_at)) is None
        assert db.session.scalar(select(Membership).join(Organisation).where(Organisation.name == "Acme",
                                                                             Membership.role != Role.OWNER)) is None
    assert eve.get(path[:-3] + "abc").status_code == 404


def test_a_withdrawn_or_expired_invitation_no_longer_works(app, owner, outbox):
    _invite(owner, "dev@example.com")
    first = _invitation_path(outbox, "dev@example.com")
    page = owner.get("/account/team").get_data(as_text=True)
    action = re.search(r'action="(/account/team/invitations/\d+/revoke)"', page).group(1)
    assert owner.post(action, data={"csrf_token": form_token(page)}, headers=SAME_ORIGIN).status_code == 303
    assert app.test_client().get(first).status_code == 404
    _invite(owner, "dev@example.com")
    second = _invitation_path(outbox, "dev@example.com")
    assert second != first and app.test_client().get(second).status_code == 200
    with app.app_context():
        db.session.execute(update(Invitation).values(expires_at=Invitation.created_at))
        db.session.commit()
    assert "cannot be used" in app.test_client().get(second).get_data(as_text=True)


def _join(app, email, role, nickname=None):
    """A verified account that is a member of Acme with ``role`` (as if it accepted an invitation)."""
    with app.app_context():
        person = UserFactory(email=email, nickname=nickname)
        team = db.session.scalar(select(Organisation).where(Organisation.name == "Acme"))
        db.session.add(Membership(organisation_id=team.id, user_id=person.id, role=role))
        db.session.commit()
        return team.id


def _signed_in_member(app, outbox, email, team_id):
    client = app.test_client()
    AuthActions(client, outbox).login(email)
    submit(client, "/account/organisations", {"organisation": team_id}, action="/account/organisation")
    return client


def test_a_removed_member_loses_the_team_and_the_keys_not_kept(app, owner, outbox):
    team_id = _join(app, "dev@example.com", Role.DEVELOPER, nickname="Dev")
    with app.app_context():
        dev_user = db.session.scalar(select(User).where(User.email == "dev@example.com"))
        team = db.session.get(Organisation, team_id)
        add_credits(team, 100, "purchase", team.created_at)
        kept = ApiKeyFactory(user=dev_user, organisation=team, name="prod")
        dropped = ApiKeyFactory(user=dev_user, organisation=team, name="laptop")
        db.session.commit()
        kept_secret, dropped_secret, kept_id, membership_id = kept.secret, dropped.secret, kept.id, db.session.scalar(
            select(Membership.id).where(Membership.user_id == dev_user.id, Membership.organisation_id == team_id))
    dev = _signed_in_member(app, outbox, "dev@example.com", team_id)
    assert "Organisation: <strong>Acme</strong>" in dev.get("/account/keys").get_data(as_text=True)
    assert dev.get("/api/v1/users/jack", headers=bearer(dropped_secret)).status_code == 200

    confirm = owner.get(f"/account/team/members/{membership_id}/remove").get_data(as_text=True)
    assert "prod" in confirm and "laptop" in confirm
    removed = owner.post(f"/account/team/members/{membership_id}/remove", headers=SAME_ORIGIN,
                         data={"csrf_token": form_token(confirm), "keep": [str(kept_id)]})
    assert removed.status_code == 303
    assert "1 of their keys revoked" in owner.get("/account/team").get_data(as_text=True)
    assert "You are no longer a member of Acme" in next(m for m in reversed(outbox)
                                                       if m["To"] == "dev@example.com")["Subject"]
    assert "Organisation: <strong>Personal</strong>" in dev.get("/account/keys").get_data(as_text=True)
    assert dev.get("/api/v1/users/jack", headers=bearer(dropped_secret)).status_code == 401
    assert dev.get("/api/v1/users/jack", headers=bearer(kept_secret)).status_code == 200  # kept for Acme
    keys = owner.get("/account/keys").get_data(as_text=True)
    assert "prod" in keys


def test_roles_change_on_the_next_request_and_the_last_owner_stays(app, owner, outbox):
    team_id = _join(app, "dev@example.com", Role.DEVELOPER)
    _join(app, "admin@example.com", Role.ADMIN)
    dev = _signed_in_member(app, outbox, "dev@example.com", team_id)
    assert dev.get("/account/keys/999999").status_code == 404  # allowed to manage keys: no such key
    with app.app_context():
        dev_membership = db.session.scalar(select(Membership.id).where(
            Membership.organisation_id == team_id, Membership.role == Role.DEVELOPER))
        owner_membership = db.session.scalar(select(Membership.id).where(
            Membership.organisation_id == team_id, Membership.role == Role.OWNER))
    page = owner.get("/account/team").get_data(as_text=True)
    changed = owner.post(f"/account/team/members/{dev_membership}/role", headers=SAME_ORIGIN,
                         data={"csrf_token": form_token(page), "role": "viewer"})
    assert changed.status_code == 303
    refused = dev.get("/account/keys/999999")
    assert refused.status_code == 403 and "Your role in Acme is Viewer" in refused.get_data(as_text=True)

    admin = _signed_in_member(app, outbox, "admin@example.com", team_id)
    page = admin.get("/account/team").get_data(as_text=True)
    demote = admin.post(f"/account/team/members/{owner_membership}/role", headers=SAME_ORIGIN,
                        data={"csrf_token": form_token(page), "role": "viewer"})
    assert demote.status_code == 303
    assert "Only an owner can give or take the owner role" in admin.get("/account/team").get_data(as_text=True)
    leave = submit(owner, "/account/team", {}, action="/account/team/leave")
    assert leave.status_code == 303
    assert "An organisation always keeps an owner" in owner.get("/account/team").get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(Membership.role).where(Membership.id == owner_membership)) == Role.OWNER


def test_a_personal_organisation_invites_nobody(app, client, auth):
    auth.register()
    auth.login()
    page = client.get("/account/team").get_data(as_text=True)
    assert "Your personal organisation is yours alone" in page and "Invite someone" not in page
    response = _invite(client, "friend@example.com")
    assert response.status_code == 400


def test_an_owner_whose_account_closed_does_not_count_and_the_last_open_owner_stays(app, owner, outbox):
    team_id = _join(app, "second@example.com", Role.OWNER)
    with app.app_context():
        close_account(db.session.scalar(select(User).where(User.email == "second@example.com")), app.config,
                      db.session.get(Organisation, team_id).created_at)
        mine = db.session.scalar(select(Membership.id).join(User, User.id == Membership.user_id).where(
            Membership.organisation_id == team_id, User.email == "alice@example.com"))
        db.session.commit()
    page = owner.get("/account/team").get_data(as_text=True)
    owner.post(f"/account/team/members/{mine}/role", data={"csrf_token": form_token(page), "role": "admin"},
               headers=SAME_ORIGIN)
    with app.app_context():
        assert db.session.get(Membership, mine).role == Role.OWNER


def test_no_invitation_goes_to_a_member_and_a_removed_inviters_invitations_end(app, owner, outbox):
    team_id = _join(app, "admin@example.com", Role.ADMIN)
    _join(app, "dev@example.com", Role.DEVELOPER)
    outbox.clear()
    assert _invite(owner, "dev@example.com").status_code == 303
    assert not any(m["To"] == "dev@example.com" for m in outbox)  # a member already: the same page, no mail
    admin = _signed_in_member(app, outbox, "admin@example.com", team_id)
    assert _invite(admin, "admin-alt@example.com", role="admin").status_code == 303
    path = _invitation_path(outbox, "admin-alt@example.com")
    with app.app_context():
        admin_membership = db.session.scalar(select(Membership.id).where(Membership.organisation_id == team_id,
                                                                         Membership.role == Role.ADMIN))
    confirm = owner.get(f"/account/team/members/{admin_membership}/remove").get_data(as_text=True)
    owner.post(f"/account/team/members/{admin_membership}/remove", data={"csrf_token": form_token(confirm)},
               headers=SAME_ORIGIN)
    assert app.test_client().get(path).status_code == 404  # withdrawn with its sender's membership


def test_an_invitation_stops_when_its_sender_may_no_longer_invite(app, owner, outbox):
    team_id = _join(app, "admin@example.com", Role.ADMIN)
    admin = _signed_in_member(app, outbox, "admin@example.com", team_id)
    _invite(admin, "new@example.com", role="developer")
    path = _invitation_path(outbox, "new@example.com")
    with app.app_context():
        db.session.execute(update(Membership).where(Membership.organisation_id == team_id,
                                                    Membership.role == Role.ADMIN).values(role=Role.DEVELOPER))
        UserFactory(email="new@example.com")
        db.session.commit()
    newcomer = app.test_client()
    AuthActions(newcomer, outbox).login("new@example.com")
    assert submit(newcomer, path, {}).status_code == 404


def test_an_unconfirmed_account_neither_creates_organisations_nor_invites(app, client, auth, outbox):
    auth.register("late@example.com", verify=False)
    auth.login("late@example.com")
    response = submit(client, "/account/organisations", {"name": "Spam Inc"})
    assert response.status_code == 400 and "Confirm your e-mail address" in response.get_data(as_text=True)


def test_invitations_are_limited_per_organisation(app, owner, outbox):
    statuses = [_invite(owner, f"person{n}@example.com").status_code for n in range(21)]
    assert statuses[:20] == [303] * 20 and statuses[20] == 429


def test_erasing_a_member_stops_their_team_keys_and_hands_a_team_they_alone_own_to_an_admin(app, owner, outbox):
    team_id = _join(app, "admin@example.com", Role.ADMIN)
    with app.app_context():
        alice = db.session.scalar(select(User).where(User.email == "alice@example.com"))
        key = ApiKeyFactory(user=alice, organisation=db.session.get(Organisation, team_id), name="alice key")
        secret = key.secret
        erase_account(alice, app.config, db.session.get(Organisation, team_id).created_at, notify=False)
        db.session.commit()
        roles = {m.user.email: m.role for m in db.session.scalars(select(Membership).where(
            Membership.organisation_id == team_id))}
        assert roles == {"admin@example.com": Role.OWNER}
        assert db.session.scalar(select(Invitation).where(Invitation.email == "alice@example.com")) is None
    assert app.test_client().get("/api/v1/users/jack", headers=bearer(secret)).status_code == 401
