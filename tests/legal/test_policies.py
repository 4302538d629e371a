"""Versioned policies: pages with "Last updated" and live facts, history, significant-change notices."""

from datetime import timedelta
from pathlib import Path

from babel.dates import format_date
from sqlalchemy import select

from app.extensions import db as _db
from app.legal import services
from app.legal.models import PolicyNotice, PolicyVersion
from app.timeutil import utcnow
from tests.fixtures.visitor import AuthActions, submit

SIGNIFICANT = """---
version: {version}
published: {published}
effective: {effective}
significant: true
summary: {summary}
---
# Privacy policy

We now also keep invoices for {{{{ order_years }}}} years.
"""


def test_privacy_page_in_both_languages_with_last_updated_and_toc(client):
    english = client.get("/privacy").get_data(as_text=True)
    assert "Last updated: February 26, 2025" in english
    assert 'class="toc"' in english and 'href="#6-your-rights"' in english
    assert "we do not sell your personal information" in english.lower()
    assert 'href="/contact"' in english and "support@twtapi.com" in english
    chinese = client.get("/privacy", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert "最后更新" in chinese and "我们不出售您的个人信息" in chinese


def test_live_facts_follow_the_configuration(make_app):
    app = make_app(CALL_LOG_DAYS=45, CONTACT_RETENTION_DAYS=200, SUPPORT_EMAIL="help@example.org",
                   SUBPROCESSORS=[{"name": "Acme Hosting GmbH", "purpose": "Hosting."}])
    body = app.test_client().get("/privacy").get_data(as_text=True)
    assert "deleted after 45 days" in body
    assert "deleted 200 days after they are closed" in body
    assert "help@example.org" in body and "Acme Hosting GmbH" in body
    for cookie in ("session", "consent", "lang", "twa_id"):
        assert f"<code>{cookie}</code>" in body


def test_terms_and_cookie_policy_pages(client):
    assert "Terms of service" in client.get("/terms").get_data(as_text=True)
    cookies = client.get("/cookies").get_data(as_text=True)
    assert "Last updated: December 6, 2026" in cookies and "Cookie settings" in cookies


def test_the_terms_state_the_closure_rule_for_unused_credits(make_app):
    """Clause: the rule the close-account page warns about is part of the terms in force."""
    app = make_app(ACCOUNT_GRACE_DAYS=21)
    terms = app.test_client().get("/terms").get_data(as_text=True)
    assert "Last updated: December 1, 2026" in terms
    assert "Unused credits are not paid out when an account closes" in terms and "within 21 days" in terms
    chinese = app.test_client().get("/terms", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert "未使用的积分不会兑现为现金" in chinese and "21 天内" in chinese


def test_the_cookie_policy_says_a_choice_is_linked_to_the_account_at_sign_in(client):
    cookies = client.get("/cookies").get_data(as_text=True)
    assert "we link that record to your account" in cookies
    assert "when this policy changes" not in cookies  # a clarifying version does not ask everyone again


def test_the_cookie_policy_says_visitor_hashes_are_keyed_with_a_salt_deleted_each_day(client, app):
    cookies = client.get("/cookies").get_data(as_text=True)
    assert "a random value made for that day alone and deleted when the day is over" in cookies
    chinese = app.test_client().get("/cookies", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert "这个随机值在当天结束时删除" in chinese


def test_history_lists_versions_and_shows_a_readable_diff(app, client, tmp_path):
    folder = tmp_path / "privacy"
    folder.mkdir()
    today = utcnow().date()
    (folder / "2099-01-01.en.md").write_text(SIGNIFICANT.format(
        version="2099-01-01", published=today.isoformat(), effective=(today + timedelta(days=30)).isoformat(),
        summary="Invoices are kept longer."), encoding="utf-8")
    with app.app_context():
        services.publish(tmp_path)
        _db.session.commit()
    try:
        page = client.get("/privacy/history").get_data(as_text=True)
        assert "2025-02-26" in page and "2099-01-01" in page and "Invoices are kept longer." in page
        diff = client.get("/privacy/history?from=2025-02-26&to=2099-01-01").get_data(as_text=True)
        assert "<ins>" in diff and "<del>" in diff
        # The reader's text is compared, not the template source.
        assert "We now also keep invoices for 10 years." in diff
        for source in ("{{", "{%", "##", "**"):
            assert source not in diff.split('class="diff"', 1)[1]
        in_force = client.get("/privacy").get_data(as_text=True)
        assert "Last updated: February 26, 2025" in in_force  # the new version is not in force yet
        assert "A new version takes effect on" in in_force and "Invoices are kept longer." in in_force
        assert 'href="/privacy/2099-01-01"' in in_force
        upcoming = client.get("/privacy/2099-01-01").get_data(as_text=True)
        assert "Last updated: " + format_date(today, "long", locale="en") in upcoming
        assert "This version takes effect on" in upcoming
        assert "This is an earlier version" not in client.get("/privacy/2025-02-26").get_data(as_text=True)
        assert client.get("/privacy/1999-01-01").status_code == 404
    finally:
        with app.app_context():
            _db.session.execute(PolicyVersion.__table__.delete().where(PolicyVersion.version == "2099-01-01"))
            _db.session.commit()


def test_a_fresh_database_shows_the_shipped_policies_without_a_publish_step(app, client):
    with app.app_context():  # as after `flask db upgrade` on a new deployment
        _db.session.execute(PolicyVersion.__table__.delete())
        _db.session.commit()
    try:
        for page in ("/privacy", "/terms", "/cookies", "/privacy/history"):
            response = client.get(page)
            assert response.status_code == 200, page
        assert "Last updated: February 26, 2025" in client.get("/privacy").get_data(as_text=True)
    finally:
        with app.app_context():
            services.publish()
            _db.session.commit()


def test_every_past_version_is_readable_at_a_stable_address(client):
    for page in ("/privacy/2025-02-26", "/terms/2025-02-26", "/terms/2026-12-01", "/cookies/policy/2026-11-28",
                 "/cookies/policy/2026-12-01"):
        assert client.get(page).status_code == 200, page


def test_registration_records_the_published_versions(app, client, outbox):
    AuthActions(client, outbox).register()
    from app.auth.models import User

    with app.app_context():
        user = _db.session.scalar(select(User))
        assert (user.accepted_privacy_version, user.accepted_terms_version) == ("2025-02-26", "2026-12-01")


def test_a_significant_version_emails_each_eligible_user_once_and_shows_a_notice(app, client, outbox, runner,
                                                                               tmp_path):
    from app.auth.models import User

    AuthActions(client, outbox).register("active@example.com")  # signed up today, before the publication
    AuthActions(app.test_client(), outbox).register("unverified@example.com", verify=False)
    AuthActions(app.test_client(), outbox).register("closed@example.com")
    with app.app_context():
        _db.session.execute(User.__table__.update().where(User.email == "closed@example.com")
                            .values(closed_at=utcnow()))
        _db.session.commit()
    folder = tmp_path / "privacy"
    folder.mkdir()
    today = utcnow().date()
    (folder / "2099-02-02.en.md").write_text(SIGNIFICANT.format(
        version="2099-02-02", published=today.isoformat(), effective=(today + timedelta(days=30)).isoformat(),
        summary="We keep invoices longer."), encoding="utf-8")
    try:
        with app.app_context():
            services.publish(tmp_path)
            _db.session.commit()
        outbox.clear()
        first = runner.invoke(args=["policies", "notify"])
        assert "1 users notified" in first.output
        assert [m["To"] for m in outbox] == ["active@example.com"]
        assert "We keep invoices longer." in outbox[0].get_body(("plain",)).get_content()
        assert "0 users notified" in runner.invoke(args=["policies", "notify"]).output
        AuthActions(client, outbox).login("active@example.com")
        banner = client.get("/account").get_data(as_text=True)
        assert "significant changes to our policies" in banner
        assert "We keep invoices longer. (in effect from" in banner
        submit(client, "/account", {"next": "/account"}, action="/legal/acknowledge")
        assert "significant changes to our policies" not in client.get("/account").get_data(as_text=True)
        with app.app_context():
            stats = services.notice_stats()
        assert stats == [{"document": "privacy", "version": "2099-02-02", "notified": 1, "viewed": 0,
                          "acknowledged": 1}]
    finally:
        with app.app_context():
            _db.session.execute(PolicyVersion.__table__.delete().where(PolicyVersion.version == "2099-02-02"))
            _db.session.execute(PolicyNotice.__table__.delete())
            _db.session.commit()


def test_every_document_exists_in_both_languages():
    root = Path(services.DOCUMENTS_DIR)
    for document in ("privacy", "cookies", "terms"):
        versions = {p.name.rsplit(".", 2)[0] for p in (root / document).glob("*.md")}
        for version in versions:
            assert (root / document / f"{version}.en.md").exists()
            assert (root / document / f"{version}.zh_Hans.md").exists()
