"""Security activity: events on /account/security, and the e-mails that go with them."""

from datetime import timedelta

from sqlalchemy import select

from app import retention
from app.auth.models import SecurityEvent
from app.extensions import db as _db
from app.timeutil import utcnow
from tests.fixtures.visitor import AuthActions, submit

FIREFOX = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:130.0) Gecko/20100101 Firefox/130.0"}
IPHONE = {"User-Agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Safari/605.1"}


def test_events_are_listed_with_time_ip_and_device(client, outbox):
    auth = AuthActions(client, outbox)
    auth.register()
    auth.login(password="wrong password here", headers=FIREFOX)
    auth.login(headers=FIREFOX)
    submit(client, "/account/security", {"confirmed": "yes"}, action="/account/security/sessions/end-others")
    page = client.get("/account/security").get_data(as_text=True)
    for event in ("Failed sign-in attempt", "Signed in"):  # by their labels, never the stored tags
        assert event in page and "auth:login" not in page
    assert "Failed sign-in attempt" in page
    assert "Firefox · Linux" in page
    assert "127.0.0.1" in page


def test_events_in_chinese(client, outbox):
    auth = AuthActions(client, outbox)
    submit(client, "/register", {"email": "li@example.com", "password": auth.PASSWORD, "age_confirmed": "y",
                                 "transfer_consent": "y"},
           headers={"Accept-Language": "zh-CN"})
    auth.login("li@example.com")
    page = client.get("/account/security", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert "近期活动" in page


def test_sign_in_from_a_new_device_is_emailed(app, client, outbox):
    auth = AuthActions(client, outbox)
    auth.register()
    auth.login(headers=FIREFOX)  # the first sign-in: nothing to compare with, no mail
    auth.logout()
    auth.login(headers=FIREFOX)  # same device again: no mail
    assert not [m for m in outbox if "New sign-in" in m["Subject"]]
    AuthActions(app.test_client(), outbox).login(headers=IPHONE)
    notices = [m for m in outbox if "New sign-in" in m["Subject"]]
    assert len(notices) == 1
    assert "Safari · iOS" in notices[0].get_body(("plain",)).get_content()


def test_events_are_removed_after_90_days(app, client, outbox):
    auth = AuthActions(client, outbox)
    auth.register()
    auth.login()
    with app.app_context():
        before = len(_db.session.scalars(select(SecurityEvent)).all())
        assert before >= 1
        counts = retention.purge(app.config, utcnow() + timedelta(days=91))
        assert counts["security_events.expired"] == before
        assert _db.session.scalars(select(SecurityEvent)).all() == []
