"""Usage alerts as a customer, a colleague they add and an attacker see them: the organisation's
thresholds (credits or shares of recent use), one mail per crossing re-armed by a top-up, other
addresses confirmed by a link, the 80 % warning of a key's cap, the spend limit's form."""

import io
import re
import zipfile
from datetime import timedelta

from sqlalchemy import func, select, update

from app.auth.models import User
from app.billing import alerts
from app.billing.models import AlertRecipient
from app.billing.services import add_credits
from app.extensions import db as _db
from app.keys.models import ApiKey
from app.organisations.models import Organisation
from app.timeutil import utcnow
from app.usage.models import UsageDaily
from tests.fixtures.factories import make_customer, org_of
from tests.fixtures.visitor import AuthActions, bearer, submit

USERS = "/api/v1/users/jack"


def signed_in_customer(client, outbox, app, credits=100):
    """A customer signed in through the pages, with a key and ``credits`` bought in their personal
    organisation; its id and the key's secret."""
    auth = AuthActions(client, outbox)
    auth.register("alice@example.com")
    auth.login("alice@example.com")
    with app.test_request_context():
        organisation = org_of(_db.session.scalar(select(User).where(User.email == "alice@example.com")))
        add_credits(organisation, credits, "purchase", utcnow())
        _db.session.commit()
        organisation_id = organisation.id
    page = submit(client, "/account/keys", {"name": "app"})
    secret = re.search(r'value="(twt_[A-Za-z0-9_-]+)"', page.get_data(as_text=True)).group(1)
    return organisation_id, secret


def balance(app, organisation_id):
    with app.app_context():
        return _db.session.scalar(select(Organisation.credit_balance).where(Organisation.id == organisation_id))


def low_mails(outbox):
    return [m for m in outbox if "running low" in m["Subject"]]


def test_one_mail_per_crossing_to_the_owner_and_confirmed_addresses_re_armed_by_a_top_up(app, client, outbox):
    org_id, secret = signed_in_customer(client, outbox, app)
    start = balance(app, org_id)
    saved = submit(client, "/account/alerts", {"thresholds": f"{start - 3}, {start - 6}", "spend_limit": ""},
                   follow_redirects=True)
    assert f"falls to {start - 3}, {start - 6} credits" in saved.get_data(as_text=True)
    submit(client, "/account/alerts", {"email": "finance@example.com"}, action="/account/alerts/recipients")
    submit(client, "/account/alerts", {"email": "never@example.com"}, action="/account/alerts/recipients")
    link = next(m for m in outbox if m["To"] == "finance@example.com").get_body(("plain",)).get_content()
    assert "alice@example.com" not in link  # the owner's address is not handed to the colleague
    confirmed = client.get(re.search(r"http://\S+/alerts/confirm/\S+", link).group(0).replace("http://127.0.0.1:5000",
                                                                                                ""))
    assert confirmed.status_code == 200 and "finance@example.com now gets" in confirmed.get_data(as_text=True)
    page = client.get("/account/alerts").get_data(as_text=True)
    assert "finance@example.com" in page and "waiting for confirmation" in page
    outbox.clear()
    for _ in range(4):  # start-1 … start-4: crosses start-3 once
        assert client.get(USERS, headers=bearer(secret)).status_code == 200
    mails = low_mails(outbox)
    assert sorted(m["To"] for m in mails) == ["alice@example.com", "finance@example.com"]
    assert f"now {start - 3}" in mails[0].get_body(("plain",)).get_content()
    outbox.clear()
    for _ in range(2):  # start-5, start-6: the second threshold, once
        client.get(USERS, headers=bearer(secret))
    assert len(low_mails(outbox)) == 2 and all(f"now {start - 6}" in m.get_body(("plain",)).get_content()
                                               for m in low_mails(outbox))
    with app.test_request_context():  # a top-up re-arms both
        add_credits(_db.session.get(Organisation, org_id), 6, "purchase", utcnow())
        _db.session.commit()
    outbox.clear()
    for _ in range(4):
        client.get(USERS, headers=bearer(secret))
    assert len(low_mails(outbox)) == 2 and "never@example.com" not in [m["To"] for m in outbox]


def test_shares_come_from_the_last_30_days_use_or_the_last_purchase(app, runner):
    org_id, _secret = make_customer(app, credits=1000)  # bought 1,000, used none: 25 % is 250
    with app.app_context():
        assert _db.session.get(Organisation, org_id).alert_levels == "250,100,50"
        today = utcnow().date()
        _db.session.add_all([UsageDaily(day=today - timedelta(days=d), organisation_id=org_id, key_id=None,
                                        endpoint="/x", calls=1, credits=c, errors=0)
                             for d, c in ((1, 300), (10, 100), (40, 5000))])
        _db.session.commit()
    assert "alert levels changed: 1" in runner.invoke(args=["credits", "refresh-alerts"]).output
    with app.app_context():  # 400 credits in the last 30 days; the 5,000 of 40 days ago do not count
        assert _db.session.get(Organisation, org_id).alert_levels == "100,40,20"
    assert "alert levels changed: 0" in runner.invoke(args=["credits", "refresh-alerts"]).output


def test_bad_thresholds_and_limits_get_a_message_and_change_nothing(app, client, outbox):
    org_id, _secret = signed_in_customer(client, outbox, app)
    for fields, message in (({"thresholds": "25%, lots"}, "“lots” is not a threshold"),
                            ({"thresholds": "150%"}, "“150%” is not a threshold"),
                            ({"thresholds": "1,2,3,4,5,6"}, "at most five"),
                            ({"thresholds": "10%", "spend_limit": "0"}, "from 1 to 1,000,000,000"),
                            ({"thresholds": "10%", "spend_limit": "9" * 30}, "from 1 to 1,000,000,000")):
        response = submit(client, "/account/alerts", fields)
        assert response.status_code == 400 and message in response.get_data(as_text=True), fields
    with app.app_context():
        organisation = _db.session.get(Organisation, org_id)
        assert (organisation.alert_thresholds, organisation.monthly_spend_limit) == (None, None)
    for email, message in (("not an address", "Enter a valid e-mail address"), ("", "Enter an e-mail address")):
        response = submit(client, "/account/alerts", {"email": email}, action="/account/alerts/recipients")
        assert response.status_code == 400 and message in response.get_data(as_text=True)


def test_a_confirmation_link_works_once_within_its_days_and_addresses_are_limited(app, client, outbox):
    org_id, _secret = signed_in_customer(client, outbox, app)
    assert client.get("/alerts/confirm/not-a-token").status_code == 400
    assert client.get("/alerts/confirm/" + "x" * 5000).status_code in (400, 404, 414)
    submit(client, "/account/alerts", {"email": "team0@example.com"}, action="/account/alerts/recipients")
    with app.test_request_context():
        organisation = _db.session.get(Organisation, org_id)
        adder = _db.session.scalar(select(User).where(User.email == "alice@example.com"))
        for n in range(1, alerts.MAX_RECIPIENTS):
            alerts.add_recipient(organisation, adder, f"team{n}@example.com", app.config, utcnow())
        _db.session.commit()
    too_many = submit(client, "/account/alerts", {"email": "one.more@example.com"}, action="/account/alerts/recipients")
    assert too_many.status_code == 400 and "At most 5 other addresses" in too_many.get_data(as_text=True)
    token_mail = next(m for m in outbox if m["To"] == "team0@example.com").get_body(("plain",)).get_content()
    path = re.search(r"/alerts/confirm/\S+", token_mail).group(0)
    with app.app_context():  # older than its 7 days: refused, and the purge deletes it
        _db.session.execute(update(AlertRecipient).values(created_at=utcnow() - timedelta(days=8)))
        _db.session.commit()
    assert client.get(path).status_code == 400
    with app.app_context():
        from app.retention import purge
        purge(app.config, utcnow())
        assert _db.session.scalar(select(func.count()).select_from(AlertRecipient)) == 0


def test_another_customer_cannot_remove_my_addresses(app, client, outbox):
    owner_org_id, _ = make_customer(app, "owner@example.com")
    with app.test_request_context():
        owner = _db.session.scalar(select(User).where(User.email == "owner@example.com"))
        recipient = alerts.add_recipient(_db.session.get(Organisation, owner_org_id), owner, "cfo@example.com",
                                         app.config, utcnow())
        _db.session.commit()
        recipient_id = recipient.id
    signed_in_customer(client, outbox, app)
    submit(client, "/account/alerts", {"recipient": str(recipient_id)}, action="/account/alerts/recipients/remove")
    with app.app_context():
        assert _db.session.get(AlertRecipient, recipient_id) is not None


def test_a_key_warns_once_a_day_at_80_percent_of_its_cap(app, client, outbox):
    org_id, secret = signed_in_customer(client, outbox, app, credits=1000)
    with app.app_context():
        key_id = _db.session.scalar(select(ApiKey.id).where(ApiKey.organisation_id == org_id))
    saved = submit(client, f"/account/keys/{key_id}", {"name": "app", "access": "all", "daily_cap": "10",
                                                        "monthly_cap": "100"})
    assert saved.status_code == 303
    outbox.clear()
    codes = [client.get(USERS, headers=bearer(secret)).status_code for _ in range(11)]
    assert codes == [200] * 10 + [402]
    warnings = [m for m in outbox if "daily cap" in m["Subject"]]
    assert len(warnings) == 1 and "spent 8 of the 10 credits" in warnings[0].get_body(("plain",)).get_content()
    assert not [m for m in outbox if "monthly cap" in m["Subject"]]
    listed = client.get("/account/keys").get_data(as_text=True)
    assert "10 credits a day" in listed and "100 credits a month" in listed


def test_erasure_deletes_the_alert_addresses_and_the_export_lists_them(app, client, outbox, runner):
    org_id, _secret = signed_in_customer(client, outbox, app)
    with app.test_request_context():
        user = _db.session.scalar(select(User).where(User.email == "alice@example.com"))
        alerts.add_recipient(_db.session.get(Organisation, org_id), user, "finance@example.com", app.config, utcnow())
        _db.session.commit()
    export = client.get("/account/privacy/export")  # just signed in: no re-authentication asked
    assert export.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(export.get_data()))
    assert "finance@example.com" in archive.read("alert_recipients.csv").decode()
    assert "daily_cap" in archive.read("api_keys.csv").decode()
    from app.rights.services import erase_account
    with app.test_request_context():
        erase_account(_db.session.scalar(select(User).where(User.email == "alice@example.com")), app.config,
                      utcnow())
        _db.session.commit()
        assert _db.session.scalar(select(func.count()).select_from(AlertRecipient)) == 0
