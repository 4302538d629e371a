"""Billing in a team organisation, as its members see it: a billing member buys and keeps the
billing details, developers and viewers read but change nothing (403), an order is found only in
its own organisation, a member of two organisations buys in the one they work in, and the alerts
go to the owners and billing members (each by their own mail preferences), not to developers."""

import re

import pytest
from sqlalchemy import select

from app.auth.models import User
from app.billing import alerts
from app.billing.gateway import StripeGateway
from app.billing.models import AlertRecipient, BillingDetails, Invoice, Order
from app.billing.services import add_credits
from app.extensions import db as _db
from app.mail_preferences import choose, read_unsubscribe_token
from app.organisations.models import Membership, Organisation, Role
from app.organisations.services import create_organisation
from app.timeutil import utcnow
from tests.billing.fakes import FakeStripeHTTP
from tests.fixtures.factories import ApiKeyFactory, org_of
from tests.fixtures.visitor import AuthActions, bearer, submit

USERS = "/api/v1/users/jack"


def member(app, outbox, email):
    """A signed-in client of a newly registered (verified) person."""
    client = app.test_client()
    AuthActions(client, outbox).register(email)
    AuthActions(client, outbox).login(email)
    return client


def user_id(app, email) -> int:
    with app.app_context():
        return _db.session.scalar(select(User.id).where(User.email == email))


def make_team(app, owner_email, members: dict[str, Role]) -> int:
    """Team "Acme", owned by ``owner_email``, with ``members`` (e-mail: role) added as rows
    (invitations are not built yet). Its id."""
    with app.test_request_context():
        now = utcnow()
        owner = _db.session.scalar(select(User).where(User.email == owner_email))
        team = create_organisation(owner, "Acme", now)
        for email, role in members.items():
            person = _db.session.scalar(select(User).where(User.email == email))
            _db.session.add(Membership(organisation_id=team.id, user_id=person.id, role=role, created_at=now))
        _db.session.commit()
        return team.id


def work_in(client, organisation_id: int) -> None:
    response = submit(client, "/account/organisations", {"organisation": str(organisation_id)},
                      action="/account/organisation")
    assert response.status_code == 303


def buy_and_pay(client) -> str:
    """Buy the starter pack in the organisation worked in, through the demo checkout; its reference."""
    demo = submit(client, "/account/orders", {"pack": "starter"}, action="/billing/checkout")
    assert demo.status_code == 303 and demo.headers["Location"].startswith("/billing/demo/")
    assert submit(client, demo.headers["Location"], {"choice": "pay"}).status_code == 303
    return re.search(r"ORD-[2-9A-Z]{4}-[2-9A-Z]{4}", client.get(demo.headers["Location"]).get_data(as_text=True))[0]


def balance(app, organisation_id: int) -> int:
    with app.app_context():
        return _db.session.scalar(select(Organisation.credit_balance).where(Organisation.id == organisation_id))


def personal_id(app, email) -> int:
    with app.app_context():
        return org_of(_db.session.scalar(select(User).where(User.email == email))).id


def test_a_billing_member_keeps_the_billing_details_and_buys_for_the_team(app, outbox):
    member(app, outbox, "alice@example.com")
    bob = member(app, outbox, "bob@example.com")
    team_id = make_team(app, "alice@example.com", {"bob@example.com": Role.BILLING})
    work_in(bob, team_id)
    saved = submit(bob, "/account/billing", {"name": "Acme Ltd", "address": "1 Main St\nSpringfield",
                                             "country": "US", "tax_id": ""})
    assert saved.status_code == 303
    assert "Acme Ltd" in bob.get("/account/billing").get_data(as_text=True)
    reference = buy_and_pay(bob)
    signup = app.config["PRICING"].signup_credits
    assert balance(app, team_id) == 10_000
    assert balance(app, personal_id(app, "bob@example.com")) == signup  # not the buyer's own organisation
    with app.app_context():
        order = _db.session.scalar(select(Order).where(Order.reference == reference))
        details = _db.session.scalar(select(BillingDetails))
        assert (order.organisation_id, order.placed_by_id, order.buyer_name) == (
            team_id, user_id(app, "bob@example.com"), "Acme Ltd")
        assert details.organisation_id == team_id
    [receipt] = [m for m in outbox if "receipt" in m["Subject"]]
    assert receipt["To"] == "bob@example.com" and "Acme" in receipt.get_body(("plain",)).get_content()
    assert reference in bob.get("/account/orders").get_data(as_text=True)


def test_the_checkout_is_prefilled_with_the_buyers_address(make_app, outbox):
    app = make_app(STRIPE_SECRET_KEY="sk_test_fake", STRIPE_WEBHOOK_SECRET="whsec_test")
    fake = FakeStripeHTTP()
    app.extensions["payment_gateway"] = StripeGateway("sk_test_fake", http_client=fake)
    member(app, outbox, "alice@example.com")
    bob = member(app, outbox, "bob@example.com")
    work_in(bob, make_team(app, "alice@example.com", {"bob@example.com": Role.BILLING}))
    assert submit(bob, "/account/orders", {"pack": "starter"}, action="/billing/checkout").status_code == 303
    assert fake.requests[-1]["form"]["customer_email"] == "bob@example.com"


@pytest.mark.parametrize("role", [Role.DEVELOPER, Role.VIEWER])
def test_developers_and_viewers_read_but_cannot_buy_or_change_billing_details_and_alerts(app, outbox, role):
    member(app, outbox, "alice@example.com")
    carol = member(app, outbox, "carol@example.com")
    team_id = make_team(app, "alice@example.com", {"carol@example.com": role})
    with app.test_request_context():
        team = _db.session.get(Organisation, team_id)
        owner = _db.session.scalar(select(User).where(User.email == "alice@example.com"))
        recipient_id = alerts.add_recipient(team, owner, "finance@example.com", app.config, utcnow()).id
        _db.session.commit()
    work_in(carol, team_id)
    for page in ("/account/orders", "/account/alerts", "/account/billing"):
        assert carol.get(page).status_code == 200, page
    page = carol.get("/account/alerts").get_data(as_text=True)
    assert "finance@example.com" in page and "Send a confirmation link" not in page
    assert 'name="name"' not in carol.get("/account/billing").get_data(as_text=True)  # no form to fill
    assert carol.get("/billing/checkout?pack=starter").status_code == 403
    for action, data in (("/billing/checkout", {"pack": "starter"}),
                         ("/account/billing", {"name": "Mine", "address": "Here", "country": "US"}),
                         ("/account/alerts", {"thresholds": "10", "spend_limit": "5"}),
                         ("/account/alerts/recipients", {"email": "me@example.com"}),
                         ("/account/alerts/recipients/remove", {"recipient": str(recipient_id)})):
        assert submit(carol, "/account/orders", data, action=action).status_code == 403, action
    with app.app_context():
        team = _db.session.get(Organisation, team_id)
        assert (team.alert_thresholds, team.monthly_spend_limit) == (None, None)
        assert _db.session.scalars(select(Order)).all() == []
        assert _db.session.scalars(select(BillingDetails)).all() == []
        assert _db.session.scalars(select(AlertRecipient.email)).all() == ["finance@example.com"]


def test_an_order_of_another_organisation_is_not_found(app, outbox):
    alice = member(app, outbox, "alice@example.com")
    reference = buy_and_pay(alice)  # in her personal organisation
    with app.app_context():
        order = _db.session.scalar(select(Order).where(Order.reference == reference))
        session_id, number = order.checkout_session_id, _db.session.scalar(select(Invoice.number))
    owned = (f"/account/orders/{reference}", f"/account/invoices/{number}", f"/account/invoices/{number}.pdf",
             f"/billing/return?session_id={session_id}")
    for path in owned:
        assert alice.get(path).status_code == 200, path
    work_in(alice, make_team(app, "alice@example.com", {}))  # the same person, working in another organisation
    for path in (*owned, f"/billing/demo/{session_id}"):
        assert alice.get(path).status_code == 404, path
    assert reference not in alice.get("/account/orders").get_data(as_text=True)
    work_in(alice, personal_id(app, "alice@example.com"))
    assert reference in alice.get("/account/orders").get_data(as_text=True)


def test_a_member_of_two_organisations_buys_in_the_one_they_work_in(app, outbox):
    member(app, outbox, "alice@example.com")
    bob = member(app, outbox, "bob@example.com")
    team_id = make_team(app, "alice@example.com", {"bob@example.com": Role.BILLING})
    personal = personal_id(app, "bob@example.com")
    signup = app.config["PRICING"].signup_credits
    work_in(bob, team_id)
    in_team = buy_and_pay(bob)
    assert (balance(app, team_id), balance(app, personal)) == (10_000, signup)
    work_in(bob, personal)
    in_personal = buy_and_pay(bob)
    assert (balance(app, team_id), balance(app, personal)) == (10_000, signup + 10_000)
    with app.app_context():
        owners = dict(_db.session.execute(select(Order.reference, Order.organisation_id)).tuples().all())
    assert owners == {in_team: team_id, in_personal: personal}
    listing = bob.get("/account/orders").get_data(as_text=True)
    assert in_personal in listing and in_team not in listing


def test_low_balance_mail_goes_to_owners_and_billing_members_each_by_their_choice_not_to_developers(app, outbox):
    for email in ("alice@example.com", "bob@example.com", "carol@example.com", "erin@example.com"):
        member(app, outbox, email)
    team_id = make_team(app, "alice@example.com", {"bob@example.com": Role.BILLING,
                                                    "carol@example.com": Role.DEVELOPER,
                                                    "erin@example.com": Role.BILLING})
    with app.test_request_context():
        now = utcnow()
        team = _db.session.get(Organisation, team_id)
        carol = _db.session.scalar(select(User).where(User.email == "carol@example.com"))
        choose(user_id(app, "erin@example.com"), "low_balance", False, now, "page")  # Erin turned them off
        _db.session.add(AlertRecipient(organisation_id=team_id, email="finance@example.com", created_at=now,
                                       verified_at=now))
        add_credits(team, 100, "purchase", now)
        alerts.save_settings(team, "97", None, app.config, now.date())
        secret = ApiKeyFactory(user=carol, organisation=team).secret
        _db.session.commit()
    outbox.clear()
    for _ in range(4):  # 99 … 96: crosses 97 once
        assert app.test_client().get(USERS, headers=bearer(secret)).status_code == 200
    mails = [m for m in outbox if "running low" in m["Subject"]]
    assert sorted(m["To"] for m in mails) == ["alice@example.com", "bob@example.com", "finance@example.com"]
    assert all("Acme" in m.get_body(("plain",)).get_content() for m in mails)
    links = {m["To"]: read_unsubscribe_token(app.config["SECRET_KEY"], re.search(
        r"/mail/unsubscribe/([^\s/]+)", m.get_body(("plain",)).get_content())[1]) for m in mails}
    # each person's own unsubscribe link and choice; the other address follows the first owner's
    assert {email: link.user_id for email, link in links.items()} == {
        "alice@example.com": user_id(app, "alice@example.com"), "bob@example.com": user_id(app, "bob@example.com"),
        "finance@example.com": user_id(app, "alice@example.com")}
