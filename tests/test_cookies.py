"""A first visit to any public page sets no cookie at all."""

from app.consent import registry
from app.security import ACCESS_ATTR


def _public_get_paths(app):
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        if rule.endpoint == "static" or "GET" not in rule.methods or rule.arguments:
            continue
        if getattr(view, ACCESS_ATTR, None) == "public":
            yield rule.rule


def test_first_visit_to_every_public_page_sets_no_cookie(app):
    paths = list(_public_get_paths(app))
    assert "/" in paths and "/pricing" in paths
    for path in paths:
        client = app.test_client()  # a new visitor each time
        for headers in ({}, {"Accept-Language": "zh-CN"}):
            response = client.get(path, headers=headers)
            assert response.headers.getlist("Set-Cookie") == [], path


def test_static_files_and_error_pages_set_no_cookie(client):
    with client.get("/static/css/site.css") as response:
        assert response.status_code == 200
        assert response.headers.getlist("Set-Cookie") == []
    assert client.get("/missing").headers.getlist("Set-Cookie") == []
    assert client.get("/api/v1/missing").headers.getlist("Set-Cookie") == []


NECESSARY_COOKIES = {c.name for c in registry.COOKIES if c.category == registry.ConsentCategory.NECESSARY}


def test_signed_in_pages_set_only_the_necessary_session_cookie(app, client, outbox):
    from tests.fixtures.visitor import AuthActions

    auth = AuthActions(client, outbox)
    auth.register()
    auth.login()
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.arguments or rule.endpoint == "static":
            continue
        with client.get(rule.rule) as response:
            response.get_data()
        names = {c.split("=", 1)[0] for c in response.headers.getlist("Set-Cookie")}
        assert names <= NECESSARY_COOKIES, (rule.rule, names)
