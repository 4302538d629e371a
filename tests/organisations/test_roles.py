"""The role matrix: every customer page of an organisation answers each role as the one
permission table says, and every customer page is either the organisation's or the person's."""

from __future__ import annotations

import re

import pytest

from app.extensions import db
from app.organisations.models import Membership, Organisation, Role, may
from app.security import ACCESS_ATTR
from tests.fixtures.factories import UserFactory
from tests.fixtures.visitor import SAME_ORIGIN, AuthActions, form_token, submit

# Customer pages about the person, not the organisation: every role of every organisation opens them.
PERSONAL_ENDPOINTS = {
    "account.edit_profile", "account.change_password", "account.change_email", "account.show_security",
    "account.show_notifications", "account.save_notifications", "organisations.list_organisations",
    "organisations.create_organisation", "organisations.switch_organisation", "team.accept_invitation",
    "api.try_it",  # a call with a key the person pastes: the key's organisation pays, whoever sends it
}
PERSONAL_PREFIXES = ("account.", "rights.", "contact.", "auth.", "consent.", "legal.")


def _organisation_rules(app):
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        permission = getattr(view, "organisation_permission", None)
        if permission is not None:
            yield rule, permission


def test_every_customer_page_is_the_organisations_or_the_persons(app):
    """A customer page that shows or moves the organisation's money or keys carries ``member``."""
    unclassified = []
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        if getattr(view, ACCESS_ATTR, None) != "customer" or hasattr(view, "organisation_permission"):
            continue
        if rule.endpoint in PERSONAL_ENDPOINTS or rule.endpoint.startswith(PERSONAL_PREFIXES):
            continue
        unclassified.append(rule.endpoint)
    assert unclassified == []
    assert any(True for _ in _organisation_rules(app))


@pytest.fixture
def team(app, outbox):
    """An organisation with one member of each role, each signed in and working in it: {role: client}."""
    with app.app_context():
        owner = UserFactory(email="owner@example.com")
        db.session.flush()
        team = Organisation(name="Matrix", personal=False)
        db.session.add(team)
        db.session.flush()
        db.session.add(Membership(organisation_id=team.id, user_id=owner.id, role=Role.OWNER))
        for role in Role:
            if role is not Role.OWNER:
                person = UserFactory(email=f"{role}@example.com")
                db.session.flush()
                db.session.add(Membership(organisation_id=team.id, user_id=person.id, role=role))
        db.session.commit()
        team_id = team.id
    clients = {}
    for role in Role:
        client = app.test_client()
        AuthActions(client, outbox).login(f"{role}@example.com")
        switched = submit(client, "/account/organisations", {"organisation": team_id},
                          action="/account/organisation")
        assert switched.status_code == 303
        clients[role] = client
    return team_id, clients


def _path(rule) -> str:
    path = re.sub(r"<int:\w+>", "999999", rule.rule)
    return re.sub(r"<(?:string:)?\w+>", "NOPE", path)


def test_each_role_gets_what_the_permission_table_gives_it(app, team):
    """GETs are sent for every role; a POST is sent only where the role must be refused (an
    allowed POST would act: leave the team, close it), and each refusal is the 403 page."""
    _team_id, clients = team
    tokens = {role: form_token(c.get("/account/organisations").get_data(as_text=True)) for role, c in clients.items()}
    checked = 0
    for rule, permission in _organisation_rules(app):
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            for role, client in clients.items():
                allowed = may(role, permission)
                if allowed and method != "GET":
                    continue
                data = {"csrf_token": tokens[role]} if method == "POST" else None
                with client.open(_path(rule), method=method, data=data, headers=SAME_ORIGIN) as response:
                    status = response.status_code
                    body = response.get_data(as_text=True) if status == 403 else ""
                if allowed:
                    assert status != 403, (rule.rule, method, role, status)
                    if method == "GET" and not rule.arguments:
                        assert status in {200, 302, 303}, (rule.rule, method, role, status)
                else:
                    assert status == 403, (rule.rule, method, role, status)
                    assert "Your role does not allow this" in body, (rule.rule, method, role)
                checked += 1
    assert checked > 20


def test_the_permission_table_gives_the_owner_everything_and_the_viewer_only_reading():
    from app.organisations.models import PERMISSIONS, Permission
    assert PERMISSIONS[Role.OWNER] == frozenset(Permission)
    assert PERMISSIONS[Role.VIEWER] == {Permission.VIEW}
    assert all(Permission.VIEW in allowed for allowed in PERMISSIONS.values())
    assert not may("no-such-role", Permission.VIEW)
