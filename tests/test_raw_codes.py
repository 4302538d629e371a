"""No page shows a stored code where a word belongs: every state is shown by its one translated
label (app/labels.py), through every page that shows it, in both languages."""

import html
import re

import pytest
from sqlalchemy import update

from app.billing.models import Order
from app.contact.models import ContactThread
from app.extensions import db as _db
from app.labels import LABELS
from app.rights.models import RightsRequest
from tests.fixtures.site import lived_in

HIDDEN = re.compile(r"<(script|style|code|pre|title)\b.*?</\1>|<[^>]+>", re.S)
CODE_LIKE = re.compile(r"\b[a-z]+(?:[_:][a-z-]+)+\b")
KEY_PREFIX = re.compile(r"twt_[A-Za-z0-9_-]{8}")  # a key's visible prefix (in a select's option): an id, not a code


def visible_text(page: str) -> str:
    """The words a reader sees: no tags, no attribute values, no code samples, no key prefixes."""
    return KEY_PREFIX.sub(" ", html.unescape(HIDDEN.sub(" ", page)))



@pytest.fixture
def app(make_app):
    return make_app(SITE_URL="http://localhost")  # passkeys show only under a domain name

def test_no_page_shows_a_code_in_either_language(app, runner, outbox):
    site = lived_in(app, runner, outbox)
    found = {}
    for language, who, path, page in site.pages_in_each_language():
        codes = set(CODE_LIKE.findall(visible_text(page)))
        if codes:
            found[f"{language} {who} {path}"] = sorted(codes)
    assert found == {}


def pages_showing(site, kind):
    return {
        "order": [(site.customer, "/account/orders"), (site.customer, f"/account/orders/{site.order}"),
                  (site.staff, "/staff/orders"), (site.staff, f"/staff/orders/{site.order}"), (site.staff, "/staff/")],
        "thread": [(site.customer, "/account/support"), (site.customer, f"/account/support/{site.thread}"),
                   (site.staff, "/staff/messages"), (site.staff, f"/staff/messages/{site.thread}")],
        "request": [(site.staff, "/staff/requests"), (site.staff, f"/staff/requests/{site.request}")],
    }[kind]


MODEL = {"order": (Order, Order.status), "thread": (ContactThread, ContactThread.status),
         "request": (RightsRequest, RightsRequest.status)}


@pytest.mark.parametrize("kind", ["order", "thread", "request"])
def test_each_state_reads_as_its_label_on_every_page_that_shows_it(app, runner, outbox, kind):
    site = lived_in(app, runner, outbox)
    model, column = MODEL[kind]
    for code, label in LABELS[kind].items():
        if kind == "request" and code == "unconfirmed":
            continue  # staff never see a request its sender has not confirmed
        with app.app_context():
            _db.session.execute(update(model).values({column: code}))
            _db.session.commit()
        for client, path in pages_showing(site, kind):
            text = visible_text(client.get(path).get_data(as_text=True))
            with app.test_request_context():
                assert str(label) in text, (code, path)
            if code != str(label) and "_" in code:
                assert code not in text, (code, path)
