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
