"""Organisations through the pages: sign-up makes a personal one, a customer creates a team and
switches between them, and a member removed from one loses it on their next request."""

from __future__ import annotations

import re

from sqlalchemy import delete, select

from app.auth.models import User
from app.extensions import db
from app.organisations.models import Membership, Organisation, Role
from tests.fixtures.factories import UserFactory, org_of
from tests.fixtures.visitor import SAME_ORIGIN, form_token, submit


def _organisation(name: str) -> Organisation:
    return db.session.scalar(select(Organisation).where(Organisation.name == name))


def test_sign_up_makes_a_personal_organisation_owned_by_the_new_account(app, client, auth):
    auth.register("new@example.com")
    auth.login("new@example.com")
    with app.app_context():
        found = db.session.scalars(select(Membership).join(User, User.id == Membership.user_id)
                                   .where(User.email == "new@example.com")).all()
        assert [(m.role, m.organisation.personal, m.organisation.name) for m in found] == [(Role.OWNER, True, None)]
        assert found[0].organisation_id != found[0].user_id  # ids of their own (tests number them apart)
        assert found[0].organisation.credit_balance > 0  # the welcome credits went to it
    page = client.get("/account").get_data(as_text=True)
    assert "Organisation: <strong>Personal</strong>" in page


def test_a_customer_creates_a_team_works_in_it_and_switches_back(app, client, auth):
    auth.register()
    auth.login()
    response = submit(client, "/account/organisations", {"name": "  Acme   Data "})
    assert response.status_code == 303
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Acme Data is created and you work in it now." in page
    assert "Organisation: <strong>Acme Data</strong>" in page
    assert re.search(r'<option value="\d+" selected>Acme Data</option>', page)  # the header's switcher
    with app.app_context():
        team = _organisation("Acme Data")
        assert team.credit_balance == 0 and not team.personal
        personal_id = db.session.scalar(select(Membership.organisation_id).join(Organisation).where(
            Membership.user_id == db.session.scalar(select(Membership.user_id).where(
                Membership.organisation_id == team.id)), Organisation.personal.is_(True)))
    switched = submit(client, "/account/organisations", {"organisation": personal_id, "next": "/account/keys"},
                      action="/account/organisation")
    assert switched.status_code == 303 and switched.headers["Location"] == "/account/keys"
    assert "Organisation: <strong>Personal</strong>" in client.get("/account/keys").get_data(as_text=True)


def test_an_organisation_needs_a_name(client, auth):
    auth.register()
    auth.login()
    response = submit(client, "/account/organisations", {"name": "   "})
    assert response.status_code == 400
    assert "Give the organisation a name" in response.get_data(as_text=True)


def test_switching_to_an_organisation_one_is_not_a_member_of_is_404(app, client, auth):
    with app.app_context():
        stranger = UserFactory(email="stranger@example.com")
        theirs = org_of(stranger).id
        db.session.commit()
    auth.register()
    auth.login()
    response = submit(client, "/account/organisations", {"organisation": theirs}, action="/account/organisation")
    assert response.status_code == 404
    assert "Organisation: <strong>Personal</strong>" in client.get("/account").get_data(as_text=True)


def test_a_removed_member_works_in_their_personal_organisation_on_the_next_request(app, client, auth):
    auth.register()
    auth.login()
    submit(client, "/account/organisations", {"name": "Acme"})
    assert "Organisation: <strong>Acme</strong>" in client.get("/account").get_data(as_text=True)
    with app.app_context():
        db.session.execute(delete(Membership).where(Membership.organisation_id == _organisation("Acme").id))
        db.session.commit()
    page = client.get("/account").get_data(as_text=True)
    assert "Organisation: <strong>Personal</strong>" in page and "Acme" not in page


def test_a_form_made_for_one_organisation_is_refused_after_switching_in_another_tab(app, client, auth):
    auth.register()
    auth.login()
    submit(client, "/account/organisations", {"name": "Acme"})
    alerts_page = client.get("/account/alerts").get_data(as_text=True)  # made while working in Acme
    made_for = re.search(r'name="org" value="(\d+)"', alerts_page).group(1)
    with app.app_context():
        personal = db.session.scalar(select(Organisation.id).join(Membership).where(
            Organisation.personal.is_(True), Membership.user_id == db.session.scalar(
                select(User.id).where(User.email == "alice@example.com"))))
    submit(client, "/account/organisations", {"organisation": personal}, action="/account/organisation")
    sent = client.post("/account/alerts", data={"csrf_token": form_token(alerts_page), "org": made_for,
                                                "thresholds": "5", "spend_limit": "100"}, headers=SAME_ORIGIN)
    assert sent.status_code == 409 and "You switched organisation" in sent.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Organisation, personal).monthly_spend_limit is None


def test_a_mailed_link_opens_its_organisation_whichever_one_is_worked_in(app, client, auth, outbox):
    auth.register()
    auth.login()
    submit(client, "/account/organisations", {"name": "Acme"})
    page = client.get("/account/keys").get_data(as_text=True)
    response = client.post("/account/keys", data={"csrf_token": form_token(page), "name": "ingest"},
                           headers=SAME_ORIGIN)
    if response.status_code == 303:
        submit(client, response.headers["Location"], {"password": auth.PASSWORD})
        client.post("/account/keys", data={"csrf_token": form_token(page), "name": "ingest"}, headers=SAME_ORIGIN)
    mail = next(m for m in reversed(outbox) if "ingest" in m.get_body(("plain",)).get_content())
    link = re.search(r"http://[^/\s]+(/account/keys\?org=\d+)", mail.get_body(("plain",)).get_content()).group(1)
    with app.app_context():
        personal = db.session.scalar(select(Organisation.id).join(Membership).join(User, User.id == Membership.user_id)
                                     .where(Organisation.personal.is_(True), User.email == "alice@example.com"))
    submit(client, "/account/organisations", {"organisation": personal}, action="/account/organisation")
    assert "ingest" not in client.get("/account/keys").get_data(as_text=True)
    followed = client.get(link).get_data(as_text=True)
    assert "Organisation: <strong>Acme</strong>" in followed and "ingest" in followed
    with app.app_context():
        stranger = UserFactory(email="stranger@example.com")
        theirs = org_of(stranger).id
        db.session.commit()
    page = client.get(f"/account/keys?org={theirs}").get_data(as_text=True)  # not a member: nothing changes
    assert "Organisation: <strong>Acme</strong>" in page
