"""Every route is classified (public, customer, staff, api, agent) and behaves as its class says."""

import re

from app.security import ACCESS_ATTR

# Flask's own static files are public by nature and carry no marker.
UNMARKED_ALLOWED = {"static"}


def test_every_endpoint_declares_its_access_class(app):
    unmarked = [
        endpoint
        for endpoint, view in app.view_functions.items()
        if endpoint not in UNMARKED_ALLOWED and not getattr(view, ACCESS_ATTR, None)
    ]
    assert unmarked == []


def test_public_get_pages_answer_anonymous_visitors(app):
    client = app.test_client()
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        if getattr(view, ACCESS_ATTR, None) != "public" or "GET" not in rule.methods or rule.arguments:
            continue
        response = client.get(rule.rule)
        assert response.status_code < 400, rule.rule


def test_customer_pages_send_anonymous_visitors_to_sign_in(app):
    client = app.test_client()
    customer_rules = [
        rule for rule in app.url_map.iter_rules()
        if getattr(app.view_functions[rule.endpoint], ACCESS_ATTR, None) == "customer"
    ]
    assert customer_rules
    for rule in customer_rules:
        method = "GET" if "GET" in rule.methods else "POST"
        path = re.sub(r"<int:\w+>", "1", rule.rule)
        response = client.open(path, method=method, headers={"Origin": "http://localhost"},
                               data={"csrf_token": "anon.x"} if method == "POST" else None)
        # Unsafe requests without a valid token stop at CSRF (400); everything else at sign-in.
        assert response.status_code in ({302} if method == "GET" else {302, 400}), rule.rule
        if response.status_code == 302:
            assert response.headers["Location"].startswith("/login"), rule.rule


def _get_rules(app, access: str):
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        if getattr(view, ACCESS_ATTR, None) == access and "GET" in rule.methods and not rule.arguments:
            yield rule, view


def test_every_class_is_checked_with_anonymous_customer_and_staff_clients(app, runner, outbox):
    from tests.fixtures.visitor import AuthActions, turn_on_2fa
    from tests.staff.test_routes import PASSWORD, make_staff

    anonymous = app.test_client()
    customer = app.test_client()
    AuthActions(customer, outbox).register("customer@example.com")
    AuthActions(customer, outbox).login("customer@example.com")
    make_staff(runner, "admin@example.com", roles=("admin", "support", "privacy", "billing"))
    staff = app.test_client()
    AuthActions(staff, outbox).login("admin@example.com", PASSWORD)
    turn_on_2fa(staff)

    staff_rules = list(_get_rules(app, "staff"))
    assert staff_rules, "the staff console has no page"
    for rule, _ in staff_rules:
        assert anonymous.get(rule.rule).status_code == 302, rule.rule
        assert customer.get(rule.rule).status_code == 403, rule.rule
        assert staff.get(rule.rule).status_code == 200, rule.rule
    for rule, _ in _get_rules(app, "customer"):
        assert anonymous.get(rule.rule).status_code == 302, rule.rule
        with customer.get(rule.rule) as response:
            response.get_data()
            assert response.status_code in {200, 302}, rule.rule
    for rule, _ in _get_rules(app, "public"):
        for client in (anonymous, customer, staff):
            assert client.get(rule.rule).status_code < 400, rule.rule


def test_staff_views_declare_roles_that_exist(app):
    from app.auth.models import STAFF_ROLES

    for endpoint, view in app.view_functions.items():
        if getattr(view, ACCESS_ATTR, None) == "staff":
            assert set(view.staff_roles) <= set(STAFF_ROLES), endpoint


def test_api_key_endpoints_refuse_anonymous_callers_with_a_problem_401(app):
    client = app.test_client()
    api_rules = [r for r in app.url_map.iter_rules()
                 if getattr(app.view_functions[r.endpoint], ACCESS_ATTR, None) == "api"]
    assert api_rules
    for path in ("/api/v1/account", "/api/v1/users/jack"):
        response = client.get(path)
        assert response.status_code == 401
        assert response.mimetype == "application/problem+json"


def test_agent_endpoints_refuse_callers_without_an_agents_token_or_signature(app):
    client = app.test_client()
    agent_rules = [r for r in app.url_map.iter_rules()
                   if getattr(app.view_functions[r.endpoint], ACCESS_ATTR, None) == "agent"]
    assert len(agent_rules) >= 5
    assert client.post("/v1/data-rights-request", data="x").status_code == 403
    assert client.get("/v1/data-rights-request/some-id").status_code == 403
    assert client.delete("/v1/data-rights-request/some-id").status_code == 403
    assert client.get("/v1/agent/SOMEONE").status_code == 403
    assert client.post("/v1/agent/SOMEONE", data="x").status_code == 403
