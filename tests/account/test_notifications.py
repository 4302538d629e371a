"""Which e-mails a customer gets, as they and their mail client see it: every optional mail carries
a one-click unsubscribe (RFC 8058) that works without signing in, required mail carries none, and
/account/notifications lists every category with its state."""

import io
import json
import logging
import re
import urllib.error
import urllib.request
import zipfile
from datetime import date, timedelta
from urllib.parse import urlsplit

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, select, text

from app import create_app
from app.auth.models import User
from app.billing.models import AlertRecipient
from app.billing.services import add_credits, check_low_credit
from app.email import deliver_due
from app.extensions import db as _db
from app.keys.models import ApiKey
from app.legal import services as legal
from app.legal.models import PolicyNotice, PolicyVersion
from app.mail_preferences import CATEGORIES, MailPreference
from app.organisations.models import Organisation
from app.organisations.services import personal_organisation
from app.rights import export
from app.rights.services import erase_account
from app.security import RedactSecretsFilter
from app.timeutil import utcnow
from tests.fixtures.visitor import AuthActions, bearer, submit
from tests.keys.test_routes import _create, _secret
from tests.staff.test_console import open_record, staff_client

SITE = "https://portal.example.com"
SIGNIFICANT = """---
version: 2099-03-03
published: {published}
effective: {effective}
significant: true
summary: A change.
---
# {title}

Changed.
"""
OPTIONAL_SUBJECTS = ("running low", "of its daily cap", "expires on", "Our staff accessed",
                     "updating our privacy policy", "updating our cookie policy")


@pytest.fixture
def site_app(make_app):
    """The portal on an https SITE_URL, as in production (RFC 8058 wants an HTTPS URI)."""
    return make_app(SITE_URL=SITE)


def customer(app, outbox, email="alice@example.com", credits=100):
    client = app.test_client()
    auth = AuthActions(client, outbox)
    auth.register(email)
    auth.login(email)
    with app.test_request_context():
        user = _db.session.scalar(select(User).where(User.email == email))
        add_credits(personal_organisation(user.id), credits, "purchase", utcnow())
        _db.session.commit()
        user_id = user.id
    return client, user_id


def path_of(url: str) -> str:
    return urlsplit(url).path


def low_balance_mail(app, user_id, balance=1):
    """Cross the customer's low-balance threshold (set to 50 credits), as a charge does."""
    with app.test_request_context():
        own = personal_organisation(user_id)
        own.alert_levels, own.low_credit_notified, own.low_credit_notified_at = "50", None, None
        _db.session.flush()
        check_low_credit(own.id, balance, app.config)
        _db.session.commit()
        deliver_due(app.config)


def publish_significant(app, tmp_path, documents):
    today = utcnow().date()
    for document in documents:
        folder = tmp_path / document
        folder.mkdir()
        (folder / "2099-03-03.en.md").write_text(SIGNIFICANT.format(
            published=today.isoformat(), effective=(today + timedelta(days=30)).isoformat(), title=document),
            encoding="utf-8")
    with app.app_context():
        legal.publish(tmp_path)
        _db.session.commit()


def forget_published(app):
    with app.app_context():
        _db.session.execute(PolicyVersion.__table__.delete().where(PolicyVersion.version == "2099-03-03"))
        _db.session.execute(PolicyNotice.__table__.delete())
        _db.session.commit()


def test_each_optional_mail_carries_one_click_headers_and_required_mail_none(site_app, runner, outbox, tmp_path):
    app = site_app
    client, user_id = customer(app, outbox, credits=1000)
    submit(client, "/account/notifications", {"categories": [c.name for c in CATEGORIES if c.optional]})
    secret = _secret(_create(client, "app"))
    _create(client, "soon", valid_until=(date.today() + timedelta(days=6)).isoformat())
    with app.app_context():
        key_id = _db.session.scalar(select(ApiKey.id).where(ApiKey.created_by_id == user_id, ApiKey.name == "app"))
        start = _db.session.scalar(select(Organisation.credit_balance).where(
            Organisation.id == _db.session.get(ApiKey, key_id).organisation_id))
        # Signed up before the policies change (the cookie policy concerns accounts opened before it).
        _db.session.execute(User.__table__.update().where(User.id == user_id)
                            .values(created_at=utcnow() - timedelta(days=2)))
        _db.session.commit()
    submit(client, f"/account/keys/{key_id}", {"name": "app", "access": "all", "daily_cap": "10"})
    submit(client, "/account/alerts", {"thresholds": str(start - 3), "spend_limit": ""})
    for _ in range(8):  # 8 of 10: the cap's warning; and the balance falls past the threshold
        assert client.get("/api/v1/users/jack", headers=bearer(secret)).status_code == 200
    assert app.test_cli_runner().invoke(args=["keys", "remind-expiring"]).exit_code == 0
    staff = staff_client(app, runner, outbox, email="agent@example.com")
    open_record(staff, user_id, "answering a question")
    publish_significant(app, tmp_path, ("privacy", "terms", "cookies"))
    try:
        assert app.test_cli_runner().invoke(args=["policies", "notify"]).exit_code == 0
    finally:
        forget_published(app)
    mine = [m for m in outbox if m["To"] == "alice@example.com"]
    optional = [m for m in mine if any(s in m["Subject"] for s in OPTIONAL_SUBJECTS)]
    assert sorted(s for s in OPTIONAL_SUBJECTS if any(s in m["Subject"] for m in optional)) == sorted(
        OPTIONAL_SUBJECTS)
    for message in optional:
        # As the bytes on the wire: a mail client reads the URI from the raw field (RFC 2369), so it
        # must be neither RFC 2047-encoded nor folded.
        header = next(value for name, value in message.raw_items() if name == "List-Unsubscribe")
        assert re.fullmatch(r"<https://portal\.example\.com/mail/unsubscribe/[A-Za-z0-9_.-]+>", header), header
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert header[1:-1] in message.get_body(("plain",)).get_content()  # and a link a person can follow
    required = [m for m in mine if m not in optional]
    subjects = " | ".join(m["Subject"] for m in required)
    for expected in ("Confirm your e-mail", "A new API key", "terms of service"):
        assert expected in subjects
    assert all(m["List-Unsubscribe"] is None and m["List-Unsubscribe-Post"] is None for m in required), subjects


def test_the_one_click_post_of_a_mail_client_turns_the_category_off_without_cookies(site_app, outbox):
    app = site_app
    _client, user_id = customer(app, outbox)
    low_balance_mail(app, user_id)
    url = outbox[-1]["List-Unsubscribe"][1:-1]
    mail_client = app.test_client(use_cookies=False)
    answer = mail_client.post(path_of(url), data="List-Unsubscribe=One-Click",
                              content_type="application/x-www-form-urlencoded")
    assert answer.status_code == 200  # not a redirect: RFC 8058 3.2
    assert "Set-Cookie" not in answer.headers
    assert "Low balance alerts" in answer.get_data(as_text=True)
    outbox.clear()
    low_balance_mail(app, user_id)
    assert outbox == []  # turned off: not sent
    again = mail_client.post(path_of(url), data={"List-Unsubscribe": "One-Click"},
                             content_type="multipart/form-data")
    assert again.status_code == 200  # twice is harmless (a client may retry)
    with app.app_context():
        row = _db.session.get(MailPreference, (user_id, "low_balance"))
        assert row.enabled is False and row.source == "one-click"


def test_a_get_of_the_link_shows_a_button_and_changes_nothing(site_app, outbox):
    app = site_app
    _client, user_id = customer(app, outbox)
    low_balance_mail(app, user_id)
    url = outbox[-1]["List-Unsubscribe"][1:-1]
    visitor = app.test_client(use_cookies=False)
    page = visitor.get(path_of(url))
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Turn these e-mails off" in html
    assert re.search(r'<form method="post" action="' + re.escape(path_of(url)) + '"', html)
    assert "alice@example.com" not in html  # a forwarded link does not reveal the address
    outbox.clear()
    low_balance_mail(app, user_id)
    assert [m["Subject"] for m in outbox] == ["Your TwtAPI credits are running low"]



BASE64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def flipped(char: str) -> str:
    """The base64url character whose highest bit differs: a real change to a signature's last
    character (its lowest bits may be padding a decoder drops, so "A" for "B" changes nothing)."""
    return BASE64URL[BASE64URL.index(char) ^ 32]

@pytest.mark.parametrize("change", ["last", "category", "garbage"])
def test_a_tampered_link_is_refused_with_a_4xx_page(site_app, outbox, change):
    app = site_app
    _client, user_id = customer(app, outbox)
    low_balance_mail(app, user_id)
    path = path_of(outbox[-1]["List-Unsubscribe"][1:-1])
    token = path.rsplit("/", 1)[1]
    if change == "last":
        token = token[:-1] + flipped(token[-1])
    elif change == "category":  # someone else's account: the signature no longer matches
        payload, signature = token.rsplit(".", 1)
        token = payload[:-2] + "xx." + signature
    else:
        token = "not-a-token"
    visitor = app.test_client(use_cookies=False)
    for method in ("GET", "POST"):
        answer = visitor.open(f"/mail/unsubscribe/{token}", method=method, data="List-Unsubscribe=One-Click",
                              content_type="application/x-www-form-urlencoded")
        assert 400 <= answer.status_code < 500
        assert "This link does not work" in answer.get_data(as_text=True)
    outbox.clear()
    low_balance_mail(app, user_id)
    assert len(outbox) == 1  # still on


def test_a_real_http_one_click_post_as_a_mail_client_sends_it(make_app, serve, outbox):
    """The mail is made by one app, the POST goes over HTTP to the served portal (gunicorn), with
    no cookie, as Gmail's or Apple Mail's one-click does."""
    served_secret = "served-tests-only-" + "x" * 24
    app = make_app(SITE_URL=SITE, SECRET_KEY=served_secret)
    _client, user_id = customer(app, outbox)
    low_balance_mail(app, user_id)
    url = outbox[-1]["List-Unsubscribe"][1:-1]
    base = serve(workers=1, threads=2)
    request = urllib.request.Request(base + path_of(url), data=b"List-Unsubscribe=One-Click", method="POST",
                                     headers={"Content-Type": "application/x-www-form-urlencoded"})
    with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310 - our own server on loopback
        assert answer.status == 200 and answer.headers.get("Set-Cookie") is None
    tampered = urllib.request.Request(base + path_of(url)[:-1] + flipped(url[-1]), data=b"List-Unsubscribe=One-Click",
                                      method="POST", headers={"Content-Type": "application/x-www-form-urlencoded"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(tampered, timeout=30)  # noqa: S310
    assert 400 <= refused.value.code < 500
    refused.value.close()
    outbox.clear()
    low_balance_mail(app, user_id)
    assert outbox == []


def test_the_page_lists_every_category_and_turns_optional_ones_on_and_off(site_app, runner, outbox):
    app = site_app
    client, user_id = customer(app, outbox)
    assert 'href="/account/notifications"' in client.get("/account").get_data(as_text=True)
    page = client.get("/account/notifications").get_data(as_text=True)
    for category in CATEGORIES:
        assert str(category.label) in page, category.name
        if category.optional:
            assert f'value="{category.name}"' in page
        else:
            assert f'value="{category.name}"' not in page and str(category.why_required) in page
    assert re.search(r'value="low_balance"[^>]* checked', page)
    assert not re.search(r'value="staff_access"[^>]* checked', page)  # asked for, not sent by default
    staff = staff_client(app, runner, outbox, email="agent@example.com")
    open_record(staff, user_id, "first look")
    assert not [m for m in outbox if "staff accessed" in m["Subject"]]
    submit(client, "/account/notifications", {"categories": ["staff_access", "key_caps"]})
    page = client.get("/account/notifications").get_data(as_text=True)
    assert re.search(r'value="staff_access"[^>]* checked', page)
    assert not re.search(r'value="low_balance"[^>]* checked', page)
    open_record(staff, user_id, "second look")
    assert [m for m in outbox if "staff accessed" in m["Subject"]]
    outbox.clear()
    low_balance_mail(app, user_id)
    assert outbox == []


def test_another_address_that_gets_the_alerts_is_removed_by_its_own_one_click(site_app, outbox):
    app = site_app
    client, user_id = customer(app, outbox)
    with app.app_context():
        _db.session.add(AlertRecipient(organisation_id=personal_organisation(user_id).id, email="finance@example.com",
                                       created_at=utcnow(), verified_at=utcnow()))
        _db.session.commit()
    outbox.clear()
    low_balance_mail(app, user_id)
    theirs = next(m for m in outbox if m["To"] == "finance@example.com")["List-Unsubscribe"][1:-1]
    ours = next(m for m in outbox if m["To"] == "alice@example.com")["List-Unsubscribe"][1:-1]
    assert theirs != ours
    assert app.test_client(use_cookies=False).post(path_of(theirs), data="List-Unsubscribe=One-Click",
                                                   content_type="application/x-www-form-urlencoded").status_code == 200
    outbox.clear()
    low_balance_mail(app, user_id)
    assert [m["To"] for m in outbox] == ["alice@example.com"]  # the owner's choice is untouched


def test_the_export_lists_the_mail_choices_and_erasure_deletes_them(site_app, outbox):
    app = site_app
    client, user_id = customer(app, outbox)
    submit(client, "/account/notifications", {"categories": ["staff_access"]})
    with app.test_request_context():
        user = _db.session.get(User, user_id)
        archive = b"".join(export.export_zip(user, app.config, "en", utcnow()))
        rows = json.loads(zipfile.ZipFile(io.BytesIO(archive)).read("mail_preferences.json"))
        by_name = {row["category"]: row for row in rows}
        assert set(by_name) == {c.name for c in CATEGORIES}
        assert by_name["staff_access"]["enabled"] is True and by_name["staff_access"]["changed_by"] == "page"
        assert by_name["low_balance"]["enabled"] is False and by_name["security"]["enabled"] is True
        user.closed_at = utcnow()
        report = erase_account(user, app.config, utcnow(), notify=False)["report"]
        _db.session.commit()
        assert _db.session.scalars(select(MailPreference)).all() == []
        assert any(count for label, count in report["deleted"].items() if str(label) == "e-mail choices")


def test_the_migration_moves_the_staff_access_opt_in_into_the_mail_choices(database_factory):
    """Customers who had asked for the staff-access e-mail keep getting it after the upgrade; the
    others keep not getting it; a downgrade puts the old column back with the same answers."""
    url = database_factory.new()
    app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": url})
    user = ("INSERT INTO users (id, email, password_hash, created_at, age_confirmed_at, accepted_privacy_version, "
            "accepted_terms_version, password_changed_at, notify_staff_access) VALUES "
            "(:id, :email, 'x', :now, :now, 'v', 'v', :now, :asked)")
    with app.app_context():
        upgrade(revision="a7d3e9b5c1f8")
        now = utcnow()
        _db.session.execute(text(user), [{"id": 1, "email": "asked@example.com", "now": now, "asked": True},
                                         {"id": 2, "email": "quiet@example.com", "now": now, "asked": False}])
        _db.session.execute(text("INSERT INTO user_sessions (user_id, token_hash, created_at, last_seen_at, "
                                 "expires_at, remember, ip_truncated) VALUES (1, 'h', :now, :now, :now, :no, :no)"),
                            {"now": now, "no": False})
        _db.session.commit()
        upgrade(revision="a7d3e9f1c2b8")
        rows = _db.session.execute(text("SELECT user_id, category, enabled, source FROM mail_preferences")).all()
        assert [(r[0], r[1], bool(r[2]), r[3]) for r in rows] == [(1, "staff_access", True, "migrated")]
        assert "notify_staff_access" not in {c["name"] for c in inspect(_db.engine).get_columns("users")}
        # Nothing hanging off the users (ON DELETE CASCADE) went with the column.
        assert _db.session.execute(text("SELECT count(*) FROM user_sessions")).scalar() == 1
        _db.session.commit()
        downgrade(revision="a7d3e9b5c1f8")
        back = _db.session.execute(text("SELECT id, notify_staff_access FROM users ORDER BY id")).all()
        assert [(r[0], bool(r[1])) for r in back] == [(1, True), (2, False)]
        _db.session.remove()
        _db.engine.dispose()


def test_the_unsubscribe_link_is_redacted_in_access_logs():
    record = logging.LogRecord("gunicorn.access", logging.INFO, __file__, 1,
                               '127.0.0.1 "POST /mail/unsubscribe/WzEsImxvdyJd.sIgNaTuRe HTTP/1.1" 200', (), None)
    RedactSecretsFilter().filter(record)
    assert record.getMessage() == '127.0.0.1 "POST /mail/unsubscribe/[redacted] HTTP/1.1" 200'
