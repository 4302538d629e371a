"""Public pages: home, pricing, language switch, health check, security.txt."""

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from app.pages.services import security_txt
from app.pricing import DEFAULT_PRICING, CreditPack, EndpointPrice


def test_home_explains_the_api_credits_and_where_to_start(client):
    body = client.get("/").get_data(as_text=True)
    assert "<h1" in body and "REST API" in body
    assert "How credits work" in body
    assert 'href="/register"' in body
    assert 'href="/pricing"' in body
    assert f"{DEFAULT_PRICING.signup_credits} free credits" in body


def test_header_and_footer_link_to_every_public_page(client):
    body = client.get("/").get_data(as_text=True)
    for href in ["/pricing", "/docs/api", "/contact", "/login", "/register", "/privacy", "/cookies",
                 "/terms", "/cookies#settings"]:
        assert f'href="{href}"' in body, href
    assert "简体中文" in body
    assert 'class="skip-link" href="#main"' in body
    assert '<main id="main"' in body


def test_pricing_renders_the_configured_packs_and_endpoint_costs(make_app):
    pricing = replace(
        DEFAULT_PRICING,
        credit_packs=(CreditPack("mega", "Mega pack", 12_345, "USD", 777_000),),
        endpoints=(EndpointPrice("GET", "/api/v1/things/{id}", 42, "Things."),),
        rate_limit_per_minute=17,
    )
    body = make_app(PRICING=pricing).test_client().get("/pricing").get_data(as_text=True)
    assert "Mega pack" in body
    assert "$123.45" in body
    assert "777,000 credits" in body
    assert "/api/v1/things/{id}" in body
    assert ">42<" in body
    assert "Up to 17 calls a minute" in body
    assert "Starter" not in body


def test_pricing_in_chinese_formats_money_for_the_locale(client):
    body = client.get("/pricing", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert "积分包" in body
    assert "US$9.00" in body
    assert "10,000 积分" in body


def test_language_switch_sets_only_the_lang_cookie_and_returns(client):
    response = client.get("/language/zh_Hans?next=/pricing")
    assert response.status_code == 303
    assert response.headers["Location"] == "/pricing"
    cookies = response.headers.getlist("Set-Cookie")
    assert len(cookies) == 1
    assert cookies[0].startswith("lang=zh_Hans;")
    assert "HttpOnly" in cookies[0] and "SameSite=Lax" in cookies[0]
    page = client.get("/pricing").get_data(as_text=True)
    assert 'lang="zh-Hans"' in page


def test_language_cookie_beats_accept_language(client):
    client.get("/language/en?next=/")
    body = client.get("/", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert 'lang="en"' in body


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example", "/\\evil.example"])
def test_language_switch_never_redirects_off_site(client, target):
    response = client.get("/language/en", query_string={"next": target})
    assert response.headers["Location"] == "/"


def test_unknown_language_sets_no_cookie(client):
    response = client.get("/language/klingon?next=/")
    assert response.status_code == 303
    assert response.headers.getlist("Set-Cookie") == []


def test_healthz_reports_the_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ok" and body["database"] == "ok"
    assert body["outbox"] == {"queued": 0, "oldest_seconds": 0}
    assert body["demo_mode"] is False
    assert response.headers["Cache-Control"] == "no-store"


def test_healthz_says_when_the_database_is_down(make_app):
    app = make_app(SQLALCHEMY_DATABASE_URI="postgresql+psycopg://nobody@127.0.0.1:1/none")
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["status"] == "error"
    assert response.get_json()["database"] == "unavailable"
    assert response.headers["Retry-After"]


def test_security_txt_follows_rfc_9116(client, app):
    response = client.get("/.well-known/security.txt")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    text = response.get_data(as_text=True)
    assert f"Contact: mailto:{app.config['SECURITY_EMAIL']}" in text
    assert "Expires: " in text
    assert "Canonical: http://127.0.0.1:5000/.well-known/security.txt" in text


def test_security_txt_expiry_is_a_year_ahead():
    text = security_txt("https://x.example", "sec@x.example", now=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))
    assert "Expires: 2027-01-02T03:04:05Z" in text


def test_robots_txt_keeps_crawlers_out_of_private_paths(client):
    response = client.get("/robots.txt")
    assert response.status_code == 200 and response.mimetype == "text/plain"
    body = response.get_data(as_text=True)
    assert body.startswith("User-agent: *\n")
    for path in ("/account", "/staff", "/api/", "/privacy/request"):
        assert f"Disallow: {path}\n" in body
    assert "Set-Cookie" not in response.headers


def test_favicon_ico_leads_to_the_svg_icon(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 301 and response.headers["Location"].endswith("/static/favicon.svg")
    icon = client.get(response.headers["Location"])
    assert icon.mimetype == "image/svg+xml"
    icon.close()
