"""Every staff read of a customer's data by an identifier is audited and shown to the customer
(issue 32, item 8). The test walks the staff blueprint in ``app.url_map``: each endpoint with a
URL argument must be known here (with how to fill it for a customer, or why it names no customer),
and each GET page is tried with every query argument that could name a customer. Whenever a page,
CSV or PDF then shows the customer (and, for a query argument, narrows to them), the request must
have written an audit row about them and an access entry on their privacy page. So a new staff
endpoint that reads a customer's data without auditing it fails here."""

import io
import re

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select, text

from app.audit.models import AuditEntry, StaffAccess
from app.auth.models import User
from app.billing.models import Invoice, Order
from app.contact.models import ContactThread
from app.extensions import db as _db
from app.rights import workflow
from app.rights.models import RightsRequest
from app.timeutil import utcnow
from tests.fixtures.factories import make_customer
from tests.fixtures.visitor import AuthActions, submit
from tests.staff.test_console import open_record, staff_client

# URL arguments of staff endpoints that name no customer, and why.
NOT_A_CUSTOMER = {
    "staff.show_breach": "a personal-data breach in the register",
    "staff.revoke_agent": "an authorised agent (a company), not a customer",
    "staff.review_access": "a staff access under review (the review is audited with its customer)",
    "staff.download_ropa": "the format of the record of processing activities",
}
# Changes (POST only) to a customer's account: audited as actions, with their reason.
ACTIONS = {"staff.act_on_user", "staff.act_on_organisation"}
# Query argument names that could carry a customer identifier.
QUERY_ARGUMENTS = ("q", "email", "customer", "user", "user_id", "order", "reference", "invoice", "number", "thread",
                   "request")


def customer_with_everything(app, outbox, email):
    """A customer with a paid order (and its invoice), a support thread and a rights request."""
    user_id, _ = make_customer(app, email).as_user()
    client = app.test_client()
    AuthActions(client, outbox).login(email)
    demo_url = submit(client, "/account", {"pack": "starter"}, action="/billing/checkout").headers["Location"]
    submit(client, demo_url, {"choice": "pay"})
    submit(client, "/contact", {"name": "A customer", "email": email, "subject": "billing",
                                "message": "Why was I charged twice?"})
    with app.app_context():
        workflow.file_request("access", email, "Please send my data.", _db.session.get(User, user_id), "en", utcnow())
        _db.session.commit()
        order = _db.session.scalar(select(Order).where(Order.placed_by_id == user_id))
        return {
            "id": user_id, "email": email, "order": order.reference, "organisation": order.organisation_id,
            "invoice": _db.session.scalar(select(Invoice.number).where(Invoice.order_id == order.id)),
            "thread": _db.session.scalar(select(ContactThread.reference).where(ContactThread.email == email)),
            "request": _db.session.scalar(select(RightsRequest.reference).where(RightsRequest.email == email)),
        }


def url_arguments(endpoint: str, customer: dict) -> dict | None:
    """How to name ``customer`` in each staff endpoint's URL (None: not known here)."""
    return {
        "staff.show_user": {"user_id": customer["id"]},
        "staff.show_organisation": {"organisation_id": customer["organisation"]},
        "staff.show_order": {"reference": customer["order"]},
        "staff.show_invoice": {"number": customer["invoice"]},
        "staff.download_invoice": {"number": customer["invoice"]},
        "staff.show_message": {"reference": customer["thread"]},
        "staff.show_request": {"reference": customer["request"]},
    }.get(endpoint)


def marks(customer: dict) -> set[str]:
    """What on a page shows this customer."""
    return {customer["email"], customer["order"], customer["invoice"], customer["thread"], customer["request"],
            f"/staff/users/{customer['id']}\""}


def without_echoes(page: str) -> str:
    """The page without the search echoed back: form fields' values, links carrying the query."""
    return re.sub(r'(value|href)="[^"]*\?[^"]*"|value="[^"]*"', "", page)


def shown(response) -> str:
    if response.mimetype == "application/pdf":
        return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(response.data)).pages)
    return response.get_data(as_text=True)


class Reads:
    """Requests as one staff member, each checked: did it write the audit row and the access?"""

    def __init__(self, app, staff, alice, bob):
        self.app, self.staff, self.alice, self.bob = app, staff, alice, bob
        self.checked: set[str] = set()

    def begin(self):
        """From here on: no access recorded yet, and the audit rows written are counted."""
        with self.app.app_context():
            _db.session.execute(text("DELETE FROM staff_accesses"))
            _db.session.commit()
            self.last_audit = _db.session.scalar(select(func.max(AuditEntry.id))) or 0

    def get(self, url, begin=True):
        if begin:
            self.begin()
        response = self.staff.get(url)
        assert response.status_code < 500, url
        return response, shown(response) if response.status_code == 200 else ""

    def assert_audited(self, endpoint, url, identifiers):
        with self.app.app_context():
            entries = _db.session.execute(select(AuditEntry.target_user_id, AuditEntry.target)
                                          .where(AuditEntry.id > self.last_audit)).all()
            accesses = _db.session.scalar(select(func.count()).select_from(StaffAccess)
                                          .where(StaffAccess.user_id == self.alice["id"]))
        assert any(user_id == self.alice["id"] or target in identifiers for user_id, target in entries), \
            f"{endpoint} ({url}) shows a customer's data and writes no audit row about them"
        assert accesses >= 1, f"{endpoint} ({url}) shows a customer's data and the customer is not told"
        self.checked.add(endpoint)


@pytest.fixture
def walk(app, runner, outbox):
    alice = customer_with_everything(app, outbox, "alice@example.com")
    bob = customer_with_everything(app, outbox, "bob@example.com")
    staff = staff_client(app, runner, outbox, email="all-roles@example.com",
                         roles=("admin", "billing", "support", "privacy"))
    for customer in (alice, bob):  # the audit log names both before the walk
        staff.get(f"/staff/orders/{customer['order']}")
    return Reads(app, staff, alice, bob)


def staff_rules(app):
    return [rule for rule in app.url_map.iter_rules() if rule.endpoint.startswith("staff.")]


def test_every_staff_endpoint_with_a_customer_in_its_url_audits_the_read(app, walk):
    alice = walk.alice
    identifiers = {alice["email"], alice["order"], alice["invoice"], alice["thread"], alice["request"]}
    for rule in staff_rules(app):
        if not rule.arguments or rule.endpoint in NOT_A_CUSTOMER or rule.endpoint in ACTIONS:
            continue
        values = url_arguments(rule.endpoint, alice)
        assert values is not None, f"{rule.endpoint} takes {sorted(rule.arguments)}: say here how it names a " \
                                   "customer (and audit the read) or why it names none"
        walk.begin()
        if rule.endpoint == "staff.show_user":  # the record is shown once a reason is given (the access)
            open_record(walk.staff, alice["id"], "checking the double charge", category="billing",
                        reference=alice["order"])
        if rule.endpoint == "staff.show_organisation":  # the same, for the organisation's record
            opened = submit(walk.staff, rule.build(values)[1], {"reason": "checking the double charge",
                                                                     "category": "billing",
                                                                     "reference": alice["order"]})
            assert opened.status_code == 303
        url = rule.build(values)[1]
        response, body = walk.get(url, begin=False)
        assert response.status_code == 200, url
        assert alice["email"] in body or alice["order"] in body, f"{url} should show the customer"
        walk.assert_audited(rule.endpoint, url, identifiers)
    assert walk.checked >= {"staff.show_user", "staff.show_organisation", "staff.show_order",
                            "staff.show_invoice", "staff.download_invoice",
                            "staff.show_message", "staff.show_request"}


def test_every_staff_page_searched_by_a_customer_audits_the_read(app, walk):
    alice, bob = walk.alice, walk.bob
    identifiers = {alice["email"], alice["order"]}
    for rule in staff_rules(app):
        if rule.arguments or "GET" not in rule.methods:
            continue
        url = rule.build({})[1]
        for name in QUERY_ARGUMENTS:
            for value in (alice["email"], alice["order"]):
                baseline = without_echoes(walk.get(url)[1])  # afresh: the audit log grows with the walk
                response, body = walk.get(f"{url}?{name}={value}")
                body = without_echoes(body)
                shows_alice, shows_bob = (lambda page, c=c: any(m in page for m in marks(c)) for c in (alice, bob))
                narrowed = shows_alice(body) and (not shows_alice(baseline)
                                                  or (shows_bob(baseline) and not shows_bob(body)))
                if narrowed:
                    walk.assert_audited(rule.endpoint, f"{url}?{name}={value}", identifiers)
    assert walk.checked >= {"staff.list_orders", "staff.export_orders", "staff.show_audit", "staff.download_audit",
                            "staff.find_users", "staff.find_organisations", "staff.list_messages"}


def test_the_customer_sees_the_invoice_read_with_its_order(app, walk, outbox):
    """What the customer sees of a staff member opening their invoice's PDF: billing, the order."""
    walk.get(f"/staff/invoices/{walk.alice['invoice']}.pdf")
    client = app.test_client()
    AuthActions(client, outbox).login(walk.alice["email"])
    page = client.get("/account/privacy").get_data(as_text=True)
    section = page[page.index("Staff access to your data"):]
    assert "Billing and payments" in section and walk.alice["order"] in section
    assert "all-roles@example.com" not in section
    with app.app_context():
        entry = _db.session.scalar(select(AuditEntry).where(AuditEntry.action == "billing:invoice:download"))
        assert (entry.target_user_id, entry.target) == (walk.alice["id"], walk.alice["invoice"])
    assert re.search(r"\bBilling\b", section)
