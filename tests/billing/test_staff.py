"""Staff billing: orders, refunds through the gateway, manual credit adjustments; all audited."""

from sqlalchemy import select

from app.audit.models import AuditEntry
from app.auth.models import User
from app.billing.models import Order
from app.extensions import db as _db
from app.timeutil import utcnow
from tests.fixtures.factories import org_of
from tests.fixtures.visitor import AuthActions, submit, turn_on_2fa
from tests.staff.test_routes import PASSWORD, make_staff


def _paid_order(app, outbox):
    buyer = app.test_client()
    AuthActions(buyer, outbox).register("buyer@example.com")
    AuthActions(buyer, outbox).login("buyer@example.com")
    demo = submit(buyer, "/account", {"pack": "starter"}, action="/billing/checkout").headers["Location"]
    submit(buyer, demo, {"choice": "pay"})
    with app.app_context():
        return _db.session.scalar(select(Order.reference))


def _staff(app, runner, outbox, roles=("billing",)):
    make_staff(runner, roles=roles)
    client = app.test_client()
    AuthActions(client, outbox).login("staff@example.com", PASSWORD)
    turn_on_2fa(client)
    return client


def test_billing_staff_find_an_order_and_refund_it_audited(app, runner, outbox):
    reference = _paid_order(app, outbox)
    staff = _staff(app, runner, outbox)
    listing = staff.get("/staff/orders?q=buyer@example.com").get_data(as_text=True)
    assert reference in listing
    assert staff.get(f"/staff/orders?q={reference.lower()}").get_data(as_text=True).count(reference) >= 1
    page = staff.get(f"/staff/orders/{reference}")
    assert page.status_code == 200 and "buyer@example.com" in page.get_data(as_text=True)
    missing_reason = submit(staff, f"/staff/orders/{reference}", {"amount": "4.50"})
    assert missing_reason.status_code == 400
    too_much = submit(staff, f"/staff/orders/{reference}", {"amount": "9.01", "reason": "customer asked"})
    assert too_much.status_code == 400  # no silent capping: refused, with what is left
    assert "Only $9.00 is left to refund" in too_much.get_data(as_text=True)
    too_precise = submit(staff, f"/staff/orders/{reference}", {"amount": "4.505", "reason": "customer asked"})
    assert too_precise.status_code == 400 and "at most the currency" in too_precise.get_data(as_text=True)
    for value in ("NaN", "-Infinity", "0", "lots"):
        assert submit(staff, f"/staff/orders/{reference}", {"amount": value, "reason": "x"}).status_code == 400
    asked = submit(staff, f"/staff/orders/{reference}", {"amount": "4.50", "reason": "customer asked"})
    page = asked.get_data(as_text=True)
    assert asked.status_code == 200 and "Refund $4.50?" in page  # nothing moved yet
    assert "5,000 credits are taken back" in page and "from 10,100 to 5,100 credits" in page
    outbox.clear()
    refunded = submit(staff, f"/staff/orders/{reference}", {"amount": "4.50", "reason": "customer asked",
                                                           "confirmed": "yes"})
    assert refunded.status_code == 303
    with app.app_context():
        order = _db.session.scalar(select(Order))
        assert (order.status, order.refunded_cents, order.credits_reversed) == ("partially_refunded", 450, 5000)
        actions = _db.session.scalars(select(AuditEntry.action)).all()
        assert "billing:order:view" in actions and "billing:order:refund" in actions
        reason = _db.session.scalar(select(AuditEntry.reason).where(AuditEntry.action == "billing:order:refund"))
        assert reason == "4.50 USD: customer asked"
    [mail] = [m for m in outbox if m["To"] == "buyer@example.com"]
    body = mail.get_body(("plain",)).get_content()
    assert "refunded $4.50" in body and "Credits taken back: 5,000" in body and "CN-" in body


def test_manual_adjustment_needs_a_reason_and_lands_in_ledger_and_audit(app, runner, outbox):
    _paid_order(app, outbox)
    staff = _staff(app, runner, outbox)
    no_reason = submit(staff, "/staff/credits", {"email": "buyer@example.com", "amount": "50"})
    assert no_reason.status_code == 400
    done = submit(staff, "/staff/credits", {"email": "buyer@example.com", "amount": "50", "reason": "outage"},
                  follow_redirects=True)
    assert "is now" in done.get_data(as_text=True)
    with app.app_context():
        user = _db.session.scalar(select(User).where(User.email == "buyer@example.com"))
        assert org_of(user).credit_balance == 100 + 10_000 + 50  # the customer's personal organisation
        entry = _db.session.scalar(select(AuditEntry).where(AuditEntry.action == "billing:credits:adjust"))
        assert entry.reason == "+50: outage"
    assert "0 mismatches" in app.test_cli_runner().invoke(args=["credits", "verify"]).output
    assert any("adjusted your credit balance" in m.get_body(("plain",)).get_content() for m in outbox
               if m["To"] == "buyer@example.com")


def test_other_staff_roles_cannot_see_orders(app, runner, outbox):
    staff = _staff(app, runner, outbox, roles=("support",))
    assert staff.get("/staff/orders").status_code == 403
    assert staff.get("/staff/credits").status_code == 403


def test_orders_survive_account_deletion_without_the_buyer(app, outbox):
    reference = _paid_order(app, outbox)
    with app.app_context():
        _db.session.delete(_db.session.scalar(select(User).where(User.email == "buyer@example.com")))
        _db.session.commit()
        order = _db.session.scalar(select(Order).where(Order.reference == reference))
        assert order is not None and order.placed_by_id is None and order.status == "paid"


def test_billing_staff_filter_orders_see_monthly_totals_and_export_them_for_accounting(make_app, runner, outbox):
    import csv
    import io

    app = make_app(TAX_RATES="DE:19")
    for n in range(3):
        buyer = app.test_client()
        AuthActions(buyer, outbox).register(f"buyer{n}@example.com")
        AuthActions(buyer, outbox).login(f"buyer{n}@example.com")
        submit(buyer, "/account/billing", {"name": f"Käufer {n}", "address": "Hauptstr. 1\n10115 Berlin",
                                           "country": "DE", "tax_id": ""})  # German buyers: German VAT
        demo = submit(buyer, "/account", {"pack": "starter" if n < 2 else "growth"},
                      action="/billing/checkout").headers["Location"]
        submit(buyer, demo, {"choice": "pay" if n else "fail"})
    staff = _staff(app, runner, outbox)
    paid = staff.get("/staff/orders?status=paid").get_data(as_text=True)
    assert paid.count("/staff/orders/ORD-") == 2 and "payment failed" not in paid.split("<tbody>")[-1]
    big = staff.get("/staff/orders?min_amount=20").get_data(as_text=True)
    assert big.count("/staff/orders/ORD-") == 1  # the growth pack, $58.31 with VAT
    month = f"{utcnow():%Y-%m}"
    assert f"{month} (USD)" in paid and "$69.02" in paid  # 10.71 + 58.31 paid this month
    assert "$11.02" in paid  # of which VAT: 1.71 + 9.31
    bad = staff.get("/staff/orders?since=2026-12-31&until=2026-01-01&min_amount=lots")
    assert bad.status_code == 400 and "Choose a day on or after the first" in bad.get_data(as_text=True)
    for value in ("NaN", "Infinity", "-1", "1e999", "9" * 400):  # a clear message, never a 500
        assert staff.get(f"/staff/orders?max_amount={value}").status_code == 400, value
    exported = staff.get("/staff/orders.csv?status=paid")
    assert exported.status_code == 200 and exported.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(exported.get_data(as_text=True))))
    assert [(r["net"], r["tax"], r["total"], r["currency"]) for r in rows] == [
        ("9.00", "1.71", "10.71", "USD"), ("49.00", "9.31", "58.31", "USD")]
    assert all(r["invoice"].startswith("INV-") for r in rows) and rows[0]["invoice"] != rows[1]["invoice"]
    with app.app_context():
        assert "billing:orders:export" in _db.session.scalars(select(AuditEntry.action)).all()
