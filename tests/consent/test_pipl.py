"""PIPL for customers who sign up in Chinese: a separate, unticked consent to the transfer
abroad with what Art. 39 asks to be told, stored as its own event; a guardian's consent for a
child under 14 where the minimum age allows one, refused otherwise; the officer and the
representative on the Chinese privacy page where configured. English sign-ups see none of it."""

import io
import re
import zipfile

from sqlalchemy import select

from app.auth.models import User
from app.consent.models import SeparateConsent
from app.extensions import db as _db
from app.rights import export, services
from app.timeutil import utcnow
from tests.fixtures.factories import UserFactory
from tests.fixtures.visitor import PASSWORD_FOR_TESTS, AuthActions, link_in, submit

ZH = {"Accept-Language": "zh-CN"}
FORM = {"email": "li@example.com", "password": PASSWORD_FOR_TESTS, "nickname": "Li", "age_confirmed": "y"}


def test_a_chinese_sign_up_asks_separately_for_the_transfer_abroad_and_stores_it(client, app, outbox):
    page = client.get("/register", headers=ZH).get_data(as_text=True)
    assert "境外接收方" in page and app.config["SUPPORT_EMAIL"] in page and "存储和处理在欧盟" in page
    assert "个人信息的种类" in page and "您对接收方享有的权利" in page
    box = re.search(r'<input[^>]*name="transfer_consent"[^>]*>', page).group(0)
    assert "checked" not in box  # unticked until the person ticks it
    refused = submit(client, "/register", FORM, headers=ZH)
    assert refused.status_code == 200 and "我们的数据存储和处理在境外" in refused.get_data(as_text=True)
    with app.app_context():
        assert _db.session.scalar(select(User.id)) is None
    done = submit(client, "/register", {**FORM, "transfer_consent": "y"}, headers=ZH)
    assert done.status_code == 200
    with app.app_context():
        consent = _db.session.scalar(select(SeparateConsent))
        assert (consent.kind, consent.locale) == ("cross_border", "zh_Hans") and len(consent.notice_sha256) == 64
    client.get(link_in(outbox[-1], "/verify-email/"))
    AuthActions(client, outbox).login("li@example.com")
    privacy = client.get("/account/privacy", headers=ZH).get_data(as_text=True)
    assert "单独同意" in privacy


def test_an_english_sign_up_is_not_asked(client, app):
    page = client.get("/register").get_data(as_text=True)
    assert 'name="transfer_consent"' not in page
    assert submit(client, "/register", {**FORM, "email": "ann@example.com"}).status_code == 200
    with app.app_context():
        assert _db.session.scalar(select(User.id)) is not None
        assert _db.session.scalar(select(SeparateConsent.id)) is None


def test_a_guardians_consent_is_asked_only_where_the_minimum_age_lets_a_child_under_14_in(make_app):
    strict = make_app().test_client()  # MIN_AGE 16: a child under 14 cannot confirm the age; no question
    assert 'name="guardian_consent"' not in strict.get("/register", headers=ZH).get_data(as_text=True)
    lenient_app = make_app(MIN_AGE=13)
    lenient = lenient_app.test_client()
    assert 'name="guardian_consent"' in lenient.get("/register", headers=ZH).get_data(as_text=True)
    without = submit(lenient, "/register", {**FORM, "transfer_consent": "y"}, headers=ZH)
    assert "未满 14 周岁" in without.get_data(as_text=True)
    submit(lenient, "/register", {**FORM, "transfer_consent": "y", "guardian_consent": "y"}, headers=ZH)
    with lenient_app.app_context():
        assert sorted(_db.session.scalars(select(SeparateConsent.kind))) == ["cross_border", "guardian"]


def test_the_chinese_privacy_page_names_the_officer_and_representative_where_configured(make_app):
    plain = make_app().test_client().get("/privacy", headers=ZH).get_data(as_text=True)
    assert "个人信息保护负责人" not in plain and "境内代表" not in plain
    configured = make_app(PIPL_OFFICER="王芳, pipo@twtapi.com", PIPL_REPRESENTATIVE="北京某某咨询有限公司")
    page = configured.test_client().get("/privacy", headers=ZH).get_data(as_text=True)
    assert "王芳, pipo@twtapi.com" in page and "北京某某咨询有限公司" in page
    assert "王芳" not in configured.test_client().get("/privacy").get_data(as_text=True)  # the Chinese page only


def test_separate_consents_are_exported_and_erased(client, app, outbox):
    submit(client, "/register", {**FORM, "transfer_consent": "y"}, headers=ZH)
    with app.app_context():
        user = _db.session.scalar(select(User))
        archive = b"".join(export.export_zip(user, app.config, "zh_Hans", utcnow()))
        listing = zipfile.ZipFile(io.BytesIO(archive)).read("separate_consents.csv").decode()
        assert "cross_border" in listing
        services.erase_account(user, app.config, utcnow())
        _db.session.commit()
        assert _db.session.scalar(select(SeparateConsent.id)) is None


def test_a_chinese_speaking_customer_from_before_gives_the_consent_on_the_privacy_page(app, client, outbox):
    with app.app_context():
        UserFactory(email="old@example.com", locale="zh_Hans")  # signed up before sign-up asked
        UserFactory(email="en@example.com", locale="en")
        _db.session.commit()
    AuthActions(client, outbox).login("old@example.com")
    dashboard = client.get("/account").get_data(as_text=True)
    assert "我们需要您单独同意向境外提供您的个人信息" in dashboard
    page = client.get("/account/privacy").get_data(as_text=True)
    assert "境外接收方" in page and re.search(r'name="transfer_consent" value="y">', page)
    unticked = submit(client, "/account/privacy", {}, action="/account/privacy/transfer-consent",
                      follow_redirects=True)
    assert "请勾选" in unticked.get_data(as_text=True)
    submit(client, "/account/privacy", {"transfer_consent": "y"}, action="/account/privacy/transfer-consent")
    with app.app_context():
        assert _db.session.scalar(select(SeparateConsent.kind)) == "cross_border"
    assert "我们需要您单独同意" not in client.get("/account").get_data(as_text=True)
    english = app.test_client()
    AuthActions(english, outbox).login("en@example.com")
    assert "transfer_consent" not in english.get("/account/privacy").get_data(as_text=True)
