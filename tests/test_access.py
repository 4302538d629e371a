"""Every route is classified (public, customer, staff) and behaves as its class says."""

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
        path = rule.rule.replace("<int:session_id>", "1")
        response = client.open(path, method=method, headers={"Origin": "http://localhost"},
                               data={"csrf_token": "anon.x"} if method == "POST" else None)
        # Unsafe requests without a valid token stop at CSRF (400); everything else at sign-in.
        assert response.status_code in ({302} if method == "GET" else {302, 400}), rule.rule
        if response.status_code == 302:
            assert response.headers["Location"].startswith("/login"), rule.rule
