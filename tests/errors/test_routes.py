"""Error pages in both languages, and problem documents under /api/."""

import pytest
from flask import abort

STATUSES = [400, 403, 404, 405, 413, 429, 500]


@pytest.fixture
def error_app(make_app):
    app = make_app()

    @app.route("/_test/abort/<int:status>", methods=["GET"])
    def abort_with(status):
        abort(status)

    @app.route("/api/v1/_test/abort/<int:status>", methods=["GET"])
    def api_abort_with(status):
        abort(status)

    @app.get("/_test/crash")
    def crash():
        raise RuntimeError("boom: secret internals")

    @app.get("/api/v1/_test/crash")
    def api_crash():
        raise RuntimeError("boom: secret internals")

    return app


EXPECTED_TITLES = {
    "en": {400: "Bad request", 403: "Access denied", 404: "Page not found", 405: "Method not allowed",
           413: "Request too large", 429: "Too many requests", 500: "Something went wrong"},
    "zh": {400: "请求有误", 403: "拒绝访问", 404: "页面未找到", 405: "不允许的请求方法",
           413: "请求过大", 429: "请求过多", 500: "出错了"},
}


@pytest.mark.parametrize("status", STATUSES)
@pytest.mark.parametrize("language", ["en", "zh"])
def test_html_error_pages_in_the_visitors_language(error_app, status, language):
    client = error_app.test_client()
    response = client.get(f"/_test/abort/{status}", headers={"Accept-Language": language})
    body = response.get_data(as_text=True)
    assert response.status_code == status
    assert response.mimetype == "text/html"
    assert EXPECTED_TITLES[language][status] in body
    assert ('lang="zh-Hans"' if language == "zh" else 'lang="en"') in body


@pytest.mark.parametrize("status", STATUSES)
def test_api_errors_are_problem_documents(error_app, status):
    response = error_app.test_client().get(f"/api/v1/_test/abort/{status}")
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"
    body = response.get_json(force=True)
    assert body["status"] == status
    assert body["type"] == "about:blank"
    assert body["title"]


def test_unknown_page_is_the_html_404_in_chinese(client):
    response = client.get("/no/such/page", headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    assert response.status_code == 404
    assert "页面未找到" in response.get_data(as_text=True)


def test_unknown_api_path_is_a_json_problem_404(client):
    response = client.get("/api/v1/no/such/thing")
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
    assert response.get_json(force=True)["title"] == "Not Found"


def test_wrong_method_gets_405_with_allow_header(client):
    response = client.post("/pricing")
    assert response.status_code == 405
    assert "GET" in response.headers["Allow"]
    assert "Method not allowed" in response.get_data(as_text=True)


def test_crash_shows_a_friendly_500_without_internals(error_app, caplog):
    client = error_app.test_client()
    response = client.get("/_test/crash")
    body = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "Something went wrong" in body
    assert "boom" not in body and "Traceback" not in body
    assert any("Unhandled error on GET /_test/crash" in r.getMessage() for r in caplog.records)


def test_api_crash_is_a_problem_500_without_internals(error_app):
    response = error_app.test_client().get("/api/v1/_test/crash")
    assert response.status_code == 500
    assert response.mimetype == "application/problem+json"
    assert "boom" not in response.get_data(as_text=True)


def test_error_pages_set_no_cookie(error_app):
    client = error_app.test_client()
    for status in STATUSES:
        assert client.get(f"/_test/abort/{status}").headers.getlist("Set-Cookie") == []


# --- bad input never gives a 500 -----------------------------------------------------------------

@pytest.mark.parametrize("path", ["/", "/pricing", "/login", "/api/v1/account"])
def test_a_raw_non_utf8_byte_in_the_query_string_is_a_400(client, path):
    response = client.get(path, environ_overrides={"QUERY_STRING": "q=\xff"})
    assert response.status_code == 400
    if path.startswith("/api/"):
        assert response.mimetype == "application/problem+json"


def test_ids_past_the_databases_range_are_not_found(app, client, outbox):
    from tests.fixtures.visitor import AuthActions, submit

    auth = AuthActions(client, outbox)
    auth.register()
    auth.login()
    for action in ("revoke", "rotate"):
        response = submit(client, "/account/keys", {}, action=f"/account/keys/99999999999999999999/{action}")
        assert response.status_code == 404
    assert submit(client, "/account/security", {}, action="/account/security/sessions/99999999999999999999/end"
                  ).status_code == 404
