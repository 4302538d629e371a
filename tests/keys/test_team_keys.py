"""The keys of a team organisation as its members see and change them: an owner, an admin or a
developer may make, change, rotate and revoke them, a billing member or a viewer only sees them
(403 on every change); another organisation's key is not found (404), whoever asks; and the list
says which member made each key."""

import re

import pytest
from sqlalchemy import delete, select

from app.auth.models import User
from app.extensions import db as _db
from app.keys.models import ApiKey
from app.organisations.models import Membership, Role
from tests.fixtures.factories import ApiKeyFactory, make_customer, org_of
from tests.fixtures.visitor import AuthActions, bearer, submit
from tests.metering.teams import make_team, signed_in_member

ROLES = (Role.OWNER, Role.DEVELOPER, Role.BILLING, Role.VIEWER)
OWNER, DEVELOPER, BILLING, VIEWER = range(4)


@pytest.fixture
def team(app):
    """Owner, developer, billing member and viewer; the owner's and the developer's keys."""
    return make_team(app, credits=100, roles=ROLES)


def secret_in(response) -> str:
    return re.search(r'value="(twt_[A-Za-z0-9_-]+)"', response.get_data(as_text=True)).group(1)


def key_row(page: str, name: str) -> str:
    """The key list's table row of the key called ``name``."""
    return next(row for row in page.split("<tr")[1:] if f">{name}" in row or f"{name} <" in row)


def key_of(app, secret_prefix: str) -> ApiKey:
    with app.app_context():
        return _db.session.scalar(select(ApiKey).where(ApiKey.prefix == secret_prefix[:12]))


def test_a_developer_makes_rotates_and_revokes_the_teams_keys(app, team, outbox):
    client = signed_in_member(app, outbox, team.emails[DEVELOPER], team.organisation_id)
    made = submit(client, "/account/keys", {"name": "ci runner"})
    assert made.status_code == 200
    secret = secret_in(made)
    key = key_of(app, secret)
    assert (key.organisation_id, key.created_by_id) == (team.organisation_id, team.member_ids[DEVELOPER])
    assert client.get("/api/v1/account", headers=bearer(secret)).json["data"]["organisation"]["id"] == \
        team.organisation_id
    assert client.get(f"/account/keys/{team.key_ids[OWNER]}").status_code == 200  # the owner's key too
    rotated = submit(client, "/account/keys", {"grace_days": "0"}, action=f"/account/keys/{team.key_ids[OWNER]}/rotate")
    assert rotated.status_code == 200
    successor = key_of(app, secret_in(rotated))
    assert (successor.organisation_id, successor.created_by_id) == (team.organisation_id, team.member_ids[DEVELOPER])
    assert client.get("/api/v1/users/jack", headers=bearer(team.secrets[OWNER])).status_code == 401
    revoked = submit(client, "/account/keys", {"confirmed": "yes"}, action=f"/account/keys/{key.id}/revoke")
    assert revoked.status_code == 303
    assert client.get("/api/v1/users/jack", headers=bearer(secret)).status_code == 401
    assert client.get("/api/v1/users/jack", headers=bearer(secret_in(rotated))).status_code == 200


@pytest.mark.parametrize("who", [BILLING, VIEWER])
def test_a_billing_member_or_a_viewer_sees_the_keys_and_gets_403_on_every_change(app, team, outbox, who):
    client = signed_in_member(app, outbox, team.emails[who], team.organisation_id)
    page = client.get("/account/keys")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert "owner key" in body and "developer key" in body
    assert 'id="new-key-title"' not in body and "/revoke" not in body and "/rotate" not in body
    assert "does not include making or changing keys" in body
    target = team.key_ids[DEVELOPER]
    for action, data in (("/account/keys", {"name": "mine"}), (f"/account/keys/{target}", {"name": "renamed"}),
                         (f"/account/keys/{target}/revoke", {"confirmed": "yes"}),
                         (f"/account/keys/{target}/rotate", {"grace_days": "0"})):
        assert submit(client, "/account/keys", data, action=action).status_code == 403, action
    assert client.get(f"/account/keys/{target}").status_code == 403
    with app.app_context():
        keys = _db.session.scalars(select(ApiKey).where(ApiKey.organisation_id == team.organisation_id)).all()
        assert sorted(k.name for k in keys) == ["developer key", "owner key"]
        assert all(k.revoked_at is None and k.expires_at is None for k in keys)
    assert client.get("/api/v1/users/jack", headers=bearer(team.secrets[1])).status_code == 200


def test_another_organisations_key_is_not_found_whoever_asks(app, team, outbox):
    """By id, a key of another organisation is 404 on its edit, revoke and rotate: a stranger's,
    and the developer's own key of their personal organisation while they work in the team."""
    stranger_org, stranger_secret = make_customer(app, "stranger@example.com")
    with app.test_request_context():
        stranger_key = _db.session.scalar(select(ApiKey.id).where(ApiKey.organisation_id == stranger_org))
        developer = _db.session.get(User, team.member_ids[DEVELOPER])
        own = ApiKeyFactory(user=developer, organisation=org_of(developer))
        own_id, own_secret, own_prefix = own.id, own.secret, own.prefix
        _db.session.commit()
    client = signed_in_member(app, outbox, team.emails[DEVELOPER], team.organisation_id)
    for key_id in (stranger_key, own_id):
        assert client.get(f"/account/keys/{key_id}").status_code == 404
        for action, data in ((f"/account/keys/{key_id}", {"name": "taken"}),
                             (f"/account/keys/{key_id}/revoke", {"confirmed": "yes"}),
                             (f"/account/keys/{key_id}/rotate", {"grace_days": "0"})):
            assert submit(client, "/account/keys", data, action=action).status_code == 404, action
    for secret in (stranger_secret, own_secret):
        assert client.get("/api/v1/users/jack", headers=bearer(secret)).status_code in (200, 402)  # still works
    listed = client.get("/account/keys").get_data(as_text=True)
    assert own_prefix not in listed and "stranger" not in listed
    owner = app.test_client()  # the owner in their personal organisation: the team's keys are not there
    AuthActions(owner, outbox).login(team.emails[OWNER])
    assert owner.get(f"/account/keys/{team.key_ids[OWNER]}").status_code == 404


def test_the_list_says_which_member_made_each_key_and_a_former_members_keys_say_so(app, team, outbox):
    client = signed_in_member(app, outbox, team.emails[OWNER], team.organisation_id)
    page = client.get("/account/keys").get_data(as_text=True)
    assert "Created by" in page
    own_row, developer_row = key_row(page, "owner key"), key_row(page, "developer key")
    assert team.emails[OWNER] in own_row and ">you<" in own_row
    assert team.emails[DEVELOPER] in developer_row and ">you<" not in developer_row
    with app.app_context():
        _db.session.execute(delete(Membership).where(Membership.organisation_id == team.organisation_id,
                                                     Membership.user_id == team.member_ids[DEVELOPER]))
        _db.session.commit()
    developer_row = key_row(client.get("/account/keys").get_data(as_text=True), "developer key")
    assert "a former member" in developer_row and team.emails[DEVELOPER] not in developer_row
