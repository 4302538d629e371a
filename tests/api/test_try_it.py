"""The docs page's "Try it": a signed-in customer makes one real, charged call with a key and sees
the answer and its headers, without JavaScript; visitors are asked to sign in."""

import re

from sqlalchemy import func, select

from app.extensions import db as _db
from app.organisations.models import Organisation
from app.usage.models import ApiCall
from tests.fixtures.factories import make_customer
from tests.fixtures.visitor import AuthActions, submit


def test_a_customer_tries_a_call_and_it_is_charged_and_logged(app, client, outbox):
    org_id, secret = make_customer(app, credits=100)
    AuthActions(client, outbox).login()
    page = submit(client, "/docs/api", {"key": secret, "path": "/api/v1/users/jack/tweets"}, action="/docs/api/try")
    body = page.get_data(as_text=True)
    assert page.status_code == 200 and "The answer: 200" in body
    assert re.search(r"<code>X-Credits-Remaining</code></dt><dd><code>95</code>", body)
    assert "&#34;author_username&#34;: &#34;jack&#34;" in body and secret not in body  # the key is not shown back
    with app.app_context():
        assert _db.session.get(Organisation, org_id).credit_balance == 95
        assert _db.session.scalar(select(func.count()).select_from(ApiCall)) == 1


def test_a_refusal_shows_the_problem_and_bad_input_gets_a_message(app, client, outbox):
    make_customer(app, credits=100)
    AuthActions(client, outbox).login()
    wrong = submit(client, "/docs/api", {"key": "twt_not-a-key", "path": "/api/v1/users/jack"},
                   action="/docs/api/try").get_data(as_text=True)
    assert "The answer: 401" in wrong and "WWW-Authenticate" in wrong
    for path in ("https://example.com/x", "/admin", "/api/v1/users/jack //x"):
        bad = submit(client, "/docs/api", {"key": "twt_x", "path": path}, action="/docs/api/try")
        assert bad.status_code == 400 and "Give a path of this API" in bad.get_data(as_text=True)


def test_visitors_are_asked_to_sign_in_and_cannot_post(client):
    page = client.get("/docs/api").get_data(as_text=True)
    assert "to make a real call with one of your keys" in page and 'action="/docs/api/try' not in page
    assert client.post("/docs/api/try", data={}).status_code in (302, 400, 403)
