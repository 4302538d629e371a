"""One word for one state: the label a page shows is the label every other page, mail and the
export shows for the same stored state; raw codes never show as words on a page."""

import csv
import io
import zipfile

from sqlalchemy import select

from app.billing.models import Order
from app.extensions import db as _db
from app.labels import LABELS, label
from tests.fixtures.visitor import AuthActions, submit


def test_every_label_is_translated_and_distinct_per_kind(app):
    with app.test_request_context(headers={"Accept-Language": "zh-CN"}):
        for kind, values in LABELS.items():
            words = [label(kind, value) for value in values]
            assert len(set(words)) == len(words), kind
            assert all(word not in values for word in words), kind  # no raw code left untranslated


def test_a_cancelled_order_reads_the_same_on_every_page_and_in_the_export(app, client, outbox):
    auth = AuthActions(client, outbox)
    auth.register()
    auth.login()
    submit(client, "/account", {"pack": "starter"}, action="/billing/checkout")
    with app.app_context():
        order = _db.session.scalar(select(Order))
        order.status = "expired"
        reference = order.reference
        _db.session.commit()
    orders = client.get("/account/orders").get_data(as_text=True)
    receipt = client.get(f"/account/orders/{reference}").get_data(as_text=True)
    assert "cancelled" in orders and "cancelled" in receipt
    assert ">expired<" not in orders and ">expired<" not in receipt
    with client.get("/account/privacy/export") as response:
        archive = zipfile.ZipFile(io.BytesIO(response.get_data()))
    rows = list(csv.DictReader(io.StringIO(archive.read("orders.csv").decode())))
    assert [(r["status"], r["status_label"]) for r in rows] == [("expired", "cancelled")]
    ledger = list(csv.DictReader(io.StringIO(archive.read("credit_ledger.csv").decode())))
    assert {r["kind_label"] for r in ledger} == {"welcome credits"}


def test_staff_pages_show_labels_not_codes(app, runner, outbox):
    from tests.fixtures.factories import make_customer
    from tests.staff.test_console import open_record, staff_client

    user_id, _ = make_customer(app, "cust@example.com").as_user()
    staff = staff_client(app, runner, outbox, roles=("admin",))
    page = open_record(staff, user_id, "ticket SUP-1").get_data(as_text=True)
    assert '<div class="cell">purchase</div></td>' in page
    for code in ("signup_bonus", "in_progress", "partially_refunded"):
        assert f">{code}<" not in page
