"""Cookie consent as a visitor meets it, without JavaScript (the test client runs none)."""

import json
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.consent import registry, services
from app.consent.models import ConsentRecord, PageViewDay, VisitorDay
from app.extensions import db as _db
from app.timeutil import utcnow

SAME_ORIGIN = {"Origin": "http://localhost"}


def decide(client, action, categories=(), next_url="/pricing", headers=None):
    data = {"action": action, "next": next_url, "categories": list(categories)}
    return client.post("/consent", data=data, headers={**SAME_ORIGIN, **(headers or {})})


def _fetch(client, path):
    """GET a page and read it whole (streamed CSVs included), closing the response."""
    with client.get(path) as response:
        response.get_data()
        return response


def set_cookies(response) -> dict[str, str]:
    return {c.split("=", 1)[0]: c for c in response.headers.getlist("Set-Cookie")}


def records(app):
    with app.app_context():
        return _db.session.scalars(select(ConsentRecord).order_by(ConsentRecord.id)).all()


def test_first_visit_shows_the_banner_sets_no_cookie_and_is_private(client):
    response = client.get("/")
    body = response.get_data(as_text=True)
    assert 'id="consent-banner"' in body
    assert '<form method="post" action="/consent"' in body
    assert response.headers.getlist("Set-Cookie") == []
    assert response.headers["Cache-Control"] == "private"
    assert "Cookie" in response.headers["Vary"]


def test_accept_and_reject_are_the_same_element_with_the_same_style(client):
    body = client.get("/").get_data(as_text=True)
    accept = re.search(r'<(\w+) type="submit" name="action" value="accept_all" class="([^"]+)"', body)
    reject = re.search(r'<(\w+) type="submit" name="action" value="reject_all" class="([^"]+)"', body)
    assert accept and reject
    assert accept.groups() == reject.groups()
    assert 'href="/cookies#settings"' in body


def test_the_banner_comes_early_in_the_page_and_never_under_api(client):
    body = client.get("/pricing").get_data(as_text=True)
    assert body.index('id="consent-banner"') < body.index('<main id="main"')
    api = client.get("/api/v1/nothing")
    assert "consent-banner" not in api.get_data(as_text=True)


def test_reject_all_records_proof_sets_a_signed_cookie_and_returns(client, app):
    response = decide(client, "reject_all", next_url="/pricing")
    assert response.status_code == 303
    assert response.headers["Location"] == "/pricing"
    cookie = set_cookies(response)["consent"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Max-Age=15552000" in cookie  # 180 days
    page = client.get("/pricing")
    assert "consent-banner" not in page.get_data(as_text=True)
    assert "Cache-Control" not in page.headers or page.headers["Cache-Control"] != "private"
    [record] = records(app)
    assert (record.method, record.categories, record.locale) == ("reject_all", "necessary", "en")
    assert record.policy_version == app.config["COOKIE_POLICY_VERSION"]
    assert record.banner_hash == services.banner_hash("en")
    columns = {c.name for c in ConsentRecord.__table__.columns}
    assert not {"ip", "user_agent"} & columns


def test_the_cookie_is_secure_over_https(client):
    response = client.post("/consent", data={"action": "reject_all"}, base_url="https://localhost",
                           headers={"Origin": "https://localhost"})
    assert "Secure" in set_cookies(response)["consent"]


@pytest.mark.parametrize("headers", [
    {"Origin": "https://evil.example"},
    {"Sec-Fetch-Site": "cross-site", "Origin": "http://localhost"},
    {"Referer": "https://evil.example/page"},
    {},
])
def test_cross_site_or_unproven_posts_are_refused(client, app, headers):
    response = client.post("/consent", data={"action": "accept_all"}, headers=headers)
    assert response.status_code == 403
    assert "consent" not in set_cookies(response)
    assert records(app) == []


def test_same_origin_by_sec_fetch_site_is_enough(client, app):
    response = client.post("/consent", data={"action": "reject_all"}, headers={"Sec-Fetch-Site": "same-origin"})
    assert response.status_code == 303
    assert len(records(app)) == 1


def test_unknown_action_is_a_clear_400(client, app):
    assert decide(client, "maybe").status_code == 400
    assert records(app) == []


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example", "/\\evil.example"])
def test_next_never_leaves_the_site(client, target):
    assert decide(client, "reject_all", next_url=target).headers["Location"] == "/"


def test_a_tampered_cookie_counts_as_no_decision(client):
    response = decide(client, "reject_all")
    value = set_cookies(response)["consent"].split(";")[0].split("=", 1)[1]
    client.set_cookie("consent", value[:-3] + ("AAA" if not value.endswith("AAA") else "BBB"))
    assert "consent-banner" in client.get("/").get_data(as_text=True)
    client.set_cookie("consent", "not-even-signed")
    assert "consent-banner" in client.get("/").get_data(as_text=True)


def test_accept_all_turns_on_first_party_analytics(client, app):
    decide(client, "accept_all")
    first = client.get("/pricing")
    assert "twa_id" in set_cookies(first)
    assert "HttpOnly" in set_cookies(first)["twa_id"]
    client.get("/pricing")
    client.get("/")
    with app.app_context():
        views = dict(_db.session.execute(select(PageViewDay.path, PageViewDay.views)).all())
        visitors = _db.session.scalar(select(func.count()).select_from(VisitorDay))
    assert views == {"/pricing": 2, "/": 1}
    assert visitors == 1


def test_analytics_store_route_patterns_never_raw_paths(client, app):
    decide(client, "accept_all")
    client.get("/reset-password/some-secret-token-value")
    with app.app_context():
        paths = _db.session.scalars(select(PageViewDay.path)).all()
    assert all("some-secret-token-value" not in p for p in paths)


def test_without_consent_nothing_is_counted(client, app):
    client.get("/")
    decide(client, "reject_all")
    response = client.get("/pricing")
    assert "twa_id" not in set_cookies(response)
    with app.app_context():
        assert _db.session.scalars(select(PageViewDay)).all() == []


def test_withdrawal_is_one_click_and_expires_refused_cookies(client, app):
    decide(client, "accept_all")
    client.get("/pricing")  # sets the analytics id
    response = decide(client, "withdraw", next_url="/cookies")
    expired = set_cookies(response)["twa_id"]
    assert "Max-Age=0" in expired or "Expires=Thu, 01 Jan 1970" in expired
    assert [r.method for r in records(app)] == ["accept_all", "withdraw"]
    assert records(app)[-1].categories == "necessary"
    assert len({r.consent_id for r in records(app)}) == 1  # the same browser keeps its consent id


def test_a_leftover_analytics_cookie_is_expired_on_the_next_page(client):
    decide(client, "reject_all")
    client.set_cookie("twa_id", "abc")
    response = client.get("/pricing")
    assert "Max-Age=0" in set_cookies(response)["twa_id"]


def test_save_allows_exactly_the_checked_categories(client, app):
    decide(client, "save", categories=["analytics", "made-up"])
    assert records(app)[-1].categories == "necessary,analytics"
    decide(client, "save", categories=[])
    assert records(app)[-1].categories == "necessary"


def test_expired_decision_asks_again_with_a_reason(client, app):
    old = services.Decision("c-1", frozenset({"necessary", "analytics"}), app.config["COOKIE_POLICY_VERSION"],
                            utcnow() - timedelta(days=181))
    client.set_cookie("consent", services.encode_cookie(old, app.config["SECRET_KEY"]))
    body = client.get("/pricing").get_data(as_text=True)
    assert "consent-banner" in body
    assert "asking again" in body
    assert "twa_id" not in set_cookies(client.get("/pricing"))  # nothing optional runs meanwhile


def test_rejections_have_their_own_maximum_age(make_app):
    app = make_app(CONSENT_REJECT_MAX_AGE_DAYS=30)
    client = app.test_client()
    old = services.Decision("c-2", frozenset({"necessary"}), app.config["COOKIE_POLICY_VERSION"],
                            utcnow() - timedelta(days=31))
    client.set_cookie("consent", services.encode_cookie(old, app.config["SECRET_KEY"]))
    assert "consent-banner" in client.get("/").get_data(as_text=True)


def test_a_new_cookie_policy_version_asks_again_with_what_changed(make_app):
    old_app = make_app()
    client = old_app.test_client()
    decide(client, "accept_all")
    new_app = make_app(COOKIE_POLICY_VERSION="2099-01-01", COOKIE_POLICY_CHANGES="We added a preferences cookie.")
    new_client = new_app.test_client()
    new_client.set_cookie("consent", client.get_cookie("consent").value)
    body = new_client.get("/").get_data(as_text=True)
    assert "consent-banner" in body
    assert "We added a preferences cookie." in body


def test_gpc_keeps_analytics_off_and_the_banner_says_so(client, app):
    gpc = {"Sec-GPC": "1"}
    body = client.get("/", headers=gpc).get_data(as_text=True)
    assert "Global Privacy Control" in body
    assert client.get("/", headers=gpc).headers.getlist("Set-Cookie") == []  # the signal writes nothing
    response = decide(client, "accept_all", headers=gpc)
    assert "Max-Age=0" in set_cookies(response)["twa_id"]  # expired, never set
    assert records(app)[-1].method == "gpc"
    assert records(app)[-1].categories == "necessary"
    assert "twa_id" not in set_cookies(client.get("/pricing", headers=gpc))


def test_gpc_json(client):
    response = client.get("/.well-known/gpc.json")
    assert response.get_json()["gpc"] is True
    assert response.headers.getlist("Set-Cookie") == []


def test_one_proof_row_per_decision_and_none_without_one(client, app):
    client.get("/")
    client.get("/cookies")
    assert records(app) == []
    for action in ("accept_all", "reject_all", "withdraw"):
        decide(client, action)
    assert len(records(app)) == 3


def test_signed_in_decisions_carry_the_user(client, app, outbox):
    from tests.fixtures.visitor import AuthActions

    auth = AuthActions(client, outbox)
    auth.register()
    auth.login()
    decide(client, "reject_all")
    assert records(app)[-1].user_id is not None


def test_cookie_page_renders_the_registry_and_the_current_decision_with_a_receipt(client, app):
    body = client.get("/cookies").get_data(as_text=True)
    for cookie in registry.COOKIES:
        assert f"<code>{cookie.name}</code>" in body
    assert "Always on. Disabling them in your browser affects sign-in." in body
    assert 'name="categories" value="analytics"' in body
    assert re.search(r'value="analytics"\s*>', body)  # unchecked until the visitor checks it
    decide(client, "save", categories=["analytics"], next_url="/cookies")
    body = client.get("/cookies").get_data(as_text=True)
    consent_id = records(app)[-1].consent_id
    assert f"Consent id: {consent_id}" in body
    assert re.search(r'value="analytics" checked', body)
    receipt = client.get("/cookies/receipt.json")
    assert "attachment" in receipt.headers["Content-Disposition"]
    data = json.loads(receipt.get_data(as_text=True))
    assert data["consentId"] == consent_id
    assert [p["purposeId"] for p in data["purposes"] if p["consentState"] == "dpv:ConsentGiven"] == ["analytics"]


def test_cookie_page_in_chinese(client):
    body = client.get("/cookies", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert "Cookie 政策" in body and "全部拒绝" in body


def test_every_cookie_the_site_sets_is_registered(app, outbox):
    """A walk over public and portal pages in each consent state finds only registered cookies."""
    from tests.fixtures.visitor import AuthActions

    anonymous, member = app.test_client(), app.test_client()
    AuthActions(member, outbox).register()
    AuthActions(member, outbox).login()
    seen = set()
    for action in (None, "accept_all", "reject_all", "withdraw"):
        for client in (anonymous, member):
            if action:
                seen |= set(set_cookies(decide(client, action)))
            for rule in app.url_map.iter_rules():
                if "GET" in rule.methods and not rule.arguments and rule.endpoint != "static":
                    seen |= set(set_cookies(_fetch(client, rule.rule)))
    assert "twa_id" in seen and "consent" in seen
    assert seen <= registry.registered_names()


def test_a_decision_made_signed_out_is_linked_to_the_account_that_signs_in(app, client, outbox):
    from tests.fixtures.visitor import AuthActions

    AuthActions(app.test_client(), outbox).register()
    decide(client, "reject_all")
    AuthActions(client, outbox).login()
    page = client.get("/account/privacy").get_data(as_text=True)
    assert "No cookie decision is linked" not in page and "rejected all" in page  # by its label
    with app.app_context():
        from app.auth.models import User
        from app.consent.models import ConsentRecord

        user_id = _db.session.scalar(select(User.id))
        assert [r.user_id for r in _db.session.scalars(select(ConsentRecord))] == [user_id]
