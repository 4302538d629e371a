"""Checkout (the order and its tax shown before payment), the Stripe webhook, the demo checkout,
and the organisation's orders. Buying needs MANAGE_BILLING in the organisation worked in; its
orders are shown to every member (VIEW), and an order of another organisation is not found."""

from __future__ import annotations

from flask import abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user

from app.billing import details, gateway, invoices, services, webhooks
from app.billing.blueprint import bp
from app.billing.forms import CheckoutForm, ReviewCheckoutForm
from app.billing.models import OrderStatus
from app.email import external_url
from app.organisations.access import current_organisation, member
from app.organisations.models import Permission
from app.pricing import get_pricing
from app.security import csrf_exempt, public
from app.timeutil import utcnow


def _review(form: ReviewCheckoutForm, pack, status: int = 200):
    """The order before payment: pack, country, subtotal, tax and total."""
    country = form.country.data if form.country.data in dict(form.country.choices) else None
    form.shown.data = country or ""
    quote = details.quote(current_organisation().id, pack.price_cents, country, current_app.config)
    return render_template("billing/checkout.html", form=form, pack=pack, quote=quote), status


@bp.get("/billing/checkout")
@member(Permission.MANAGE_BILLING)
def show_checkout():
    """The pack, your country (from the organisation's billing details) and the subtotal, tax and
    total, before you pay."""
    if not current_user.is_verified:
        flash(_("Confirm your e-mail address before buying credits."), "warning")
        return redirect(url_for("account.show_dashboard"), code=303)
    if not request.args.get("pack"):
        return redirect(url_for("account.show_dashboard") + "#buy")
    pack = get_pricing().pack(request.args["pack"])
    if pack is None:
        abort(404)
    stored = details.of(current_organisation().id)
    form = ReviewCheckoutForm(formdata=None, data={"pack": pack.id, "country": stored.country if stored else ""})
    return _review(form, pack)


@bp.post("/billing/checkout")
@member(Permission.MANAGE_BILLING)
def start_checkout():
    """Create a pending order of the organisation worked in, placed by the signed-in member, for
    the country whose totals were shown, and send the buyer to the checkout page; a changed
    country shows its totals first. (A post without a country, from an older page, is taxed by the
    billing details' country, and then by the address Stripe confirms.)"""
    if not current_user.is_verified:
        flash(_("Confirm your e-mail address before buying credits."), "warning")
        return redirect(url_for("account.show_dashboard"), code=303)
    reviewed = "country" in request.form
    form = ReviewCheckoutForm() if reviewed else CheckoutForm()
    pack = get_pricing().pack(request.form.get("pack", ""))
    if pack is None:
        abort(400)
    if not form.validate_on_submit():
        if reviewed and not form.pack.errors and "csrf_token" not in form.errors:
            return _review(form, pack, 400)
        abort(400)
    if reviewed and (request.form.get("action") == "update" or form.shown.data != form.country.data):
        return _review(form, pack)
    order = services.create_order(current_organisation(), current_user, pack.id, get_pricing(), utcnow(),
                                  form.country.data if reviewed else None)
    session = gateway.current_gateway().create_checkout_session(
        order, current_user.email, str(get_locale()),
        success_url=(external_url("billing.show_return", org=order.organisation_id)
                     + "&session_id={CHECKOUT_SESSION_ID}"),
        cancel_url=external_url("billing.list_orders", org=order.organisation_id),
    )
    order.checkout_session_id = session.id
    return redirect(session.url, code=303)


@bp.get("/billing/return")
@member(Permission.VIEW)
def show_return():
    """Back from checkout: the paid order, or "credits arrive in a moment" until the webhook
    confirms (an order of another organisation is not found)."""
    session_id = request.args.get("session_id", "")
    if not session_id:
        return redirect(url_for("billing.list_orders"))
    order = services.order_for_checkout(session_id, current_organisation().id)
    if order is None:
        abort(404)
    return render_template("billing/return.html", order=order)


@bp.post("/billing/webhook")
@public
@csrf_exempt
def receive_webhook():
    """Stripe's events: verified on the raw body, each event id applied once."""
    return process_webhook(request.get_data(cache=False), request.headers.get("Stripe-Signature"))


def process_webhook(payload: bytes, signature: str | None):
    cfg = current_app.config
    try:
        event = gateway.verify_event(payload, signature, gateway.webhook_secret(cfg),
                                     cfg["STRIPE_WEBHOOK_TOLERANCE_SECONDS"])
    except gateway.SignatureError:
        current_app.logger.warning("billing:webhook:bad-signature")
        return jsonify({"error": "invalid signature"}), 400
    outcome = webhooks.handle_event(event, cfg, utcnow())
    current_app.logger.info("billing:webhook %s %s: %s", event.get("type"), event.get("id"), outcome)
    return jsonify({"received": True, "outcome": outcome})


@member(Permission.MANAGE_BILLING)
def show_demo_checkout(session_id: str):
    """Demo checkout (the demo payment backend only; see init_app): no real payment;
    Pay, Fail or Cancel (an order of another organisation is not found)."""
    order = services.order_for_checkout(session_id, current_organisation().id)
    if order is None:
        abort(404)
    form = CheckoutForm(data={"pack": order.pack_id})
    open_ = order.status == OrderStatus.PENDING and (order.expires_at is None or order.expires_at > utcnow())
    if not open_:  # paid, failed, cancelled or past its time: nothing more to choose
        status = 200 if request.method == "GET" else 409
        return render_template("billing/demo_checkout.html", order=order, form=None), status
    if request.method == "POST" and form.validate_on_submit():
        kinds = {"pay": "checkout.session.completed", "fail": "checkout.session.async_payment_failed",
                 "cancel": "checkout.session.expired"}
        choice = request.form.get("choice", "")
        if choice not in kinds:
            abort(400)
        payload = webhooks.demo_event(kinds[choice], order, utcnow())
        signature = gateway.sign(payload, gateway.webhook_secret(current_app.config))
        process_webhook(payload.encode(), signature)
        if choice == "cancel":
            return redirect(url_for("billing.list_orders"), code=303)
        return redirect(url_for("billing.show_return", session_id=session_id), code=303)
    return render_template("billing/demo_checkout.html", order=order, form=form)


@bp.get("/account/orders")
@member(Permission.VIEW)
def list_orders():
    """The organisation's orders."""
    return render_template("billing/orders.html", orders=services.orders_of(current_organisation().id))


@bp.get("/account/orders/<reference>")
@member(Permission.VIEW)
def show_order(reference: str):
    """A printable receipt (another organisation's reference is simply not found)."""
    order = services.find_order(reference, current_organisation().id)
    if order is None:
        abort(404)
    return render_template("billing/receipt.html", order=order, documents=invoices.documents_of(order))
