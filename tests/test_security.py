"""Security baseline: headers on every response, proxies, safe redirects, size limits."""

import re

import pytest
from flask import redirect, request, url_for

from app.security import is_safe_next, safe_next


def _csp(response) -> dict:
    policy = response.headers["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in policy.split("; ")}


@pytest.mark.parametrize("path", ["/", "/pricing", "/no-such-page", "/api/v1/nothing", "/healthz"])
def test_every_response_carries_the_security_headers(client, path):
    response = client.get(path)
    csp = _csp(response)
    assert csp["frame-ancestors"] == ["'none'"]
    if response.mimetype == "text/html":  # a page: its own scripts, by nonce
        assert "'unsafe-inline'" not in csp["script-src"]
        assert any(token.startswith("'nonce-") for token in csp["script-src"])
        assert csp["default-src"] == ["'self'"]
    else:  # JSON and problem documents load nothing at all
        assert csp["default-src"] == ["'none'"] and "script-src" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert "camera=()" in response.headers["Permissions-Policy"]
    assert "geolocation=()" in response.headers["Permissions-Policy"]
    assert "Strict-Transport-Security" not in response.headers  # plain http here


def test_csp_nonce_is_fresh_for_every_request(client):
    nonces = {
        re.search(r"'nonce-([^']+)'", client.get("/").headers["Content-Security-Policy"]).group(1)
        for _ in range(3)
    }
    assert len(nonces) == 3


def test_hsts_is_sent_over_https(client):
    response = client.get("/", base_url="https://portal.example")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")


def test_behind_a_trusted_proxy_urls_and_redirects_use_https(make_app):
    app = make_app(PROXY_HOPS=1)

    @app.get("/_test/where")
    def where():
        return {"url": url_for("pages.show_pricing", _external=True), "secure": request.is_secure}

    @app.get("/_test/bounce")
    def bounce():
        return redirect(url_for("pages.show_pricing", _external=True))

    client = app.test_client()
    headers = {
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "portal.example",
        "X-Forwarded-For": "203.0.113.9",
    }
    body = client.get("/_test/where", headers=headers).get_json()
    assert body == {"url": "https://portal.example/pricing", "secure": True}
    response = client.get("/_test/bounce", headers=headers)
    assert response.headers["Location"] == "https://portal.example/pricing"
    assert "Strict-Transport-Security" in client.get("/", headers=headers).headers


def test_without_trusted_proxies_forwarded_headers_are_ignored(make_app):
    app = make_app(PROXY_HOPS=0)

    @app.get("/_test/where")
    def where():
        return {"url": url_for("pages.show_pricing", _external=True), "ip": request.remote_addr}

    body = app.test_client().get(
        "/_test/where", headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}
    ).get_json()
    assert body["url"].startswith("http://localhost/")
    assert body["ip"] == "127.0.0.1"


def test_request_bodies_over_the_limit_get_413_page(make_app):
    app = make_app(MAX_CONTENT_LENGTH=1024, MAX_FORM_MEMORY_SIZE=1024, WTF_CSRF_ENABLED=False)

    @app.post("/_test/form")
    def form():
        return {"fields": len(request.form)}

    client = app.test_client()
    assert client.post("/_test/form", data={"a": "x" * 100}).status_code == 200
    response = client.post("/_test/form", data={"a": "x" * 5000})
    assert response.status_code == 413
    assert "Request too large" in response.get_data(as_text=True)


def test_forms_without_csrf_token_are_refused(make_app):
    app = make_app(WTF_CSRF_ENABLED=True)

    @app.post("/_test/form")
    def form():
        return "accepted"

    response = app.test_client().post("/_test/form", data={"a": "b"})
    assert response.status_code == 400
    assert "accepted" not in response.get_data(as_text=True)
    assert "reload the page" in response.get_data(as_text=True)


def test_session_cookie_flags(app):
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"


@pytest.mark.parametrize(
    "target",
    ["/account", "/account/keys?tab=1", "/pricing#packs", "/", "/%0a/evil"],
)
def test_safe_next_accepts_same_site_paths(target):
    assert is_safe_next(target)
    assert safe_next(target) == target


@pytest.mark.parametrize(
    "target",
    [
        None, "", "https://evil.example/", "//evil.example/", "/\\evil.example", "\\\\evil.example",
        "javascript:alert(1)", "http:/evil.example", "/\t/evil.example", "account",
        "/ok\\..\\evil",
    ],
)
def test_safe_next_refuses_other_sites_and_tricks(target):
    assert not is_safe_next(target)
    assert safe_next(target, "/home") == "/home"


def test_every_page_of_a_signed_in_visitor_is_no_store(client, auth):
    auth.register()
    auth.login()
    for page in ("/account", "/account/security", "/account/privacy", "/account/keys", "/account/support",
                 "/account/orders", "/account/profile", "/", "/pricing"):
        response = client.get(page)
        assert response.status_code == 200, page
        assert response.headers["Cache-Control"] == "no-store", page


def test_public_pages_of_an_anonymous_visitor_are_not_no_store(client):
    assert "no-store" not in client.get("/pricing").headers.get("Cache-Control", "")
