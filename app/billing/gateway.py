"""The only module that talks to Stripe.

``StripeGateway`` creates Checkout Sessions and refunds through ``stripe.StripeClient`` (tests give
it a fake HTTP client); ``DemoGateway`` stands in when ``STRIPE_SECRET_KEY`` is unset where the demo
parts may run (development, tests, ``DEMO_MODE=1``) and sends Stripe-shaped, signed events through
the same webhook code. ``choose_gateway`` picks one at start-up. ``verify_event`` checks a webhook's
signature on the raw body.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from dataclasses import dataclass
from datetime import UTC

import stripe
from flask import current_app

CHINESE_PAYMENT_METHODS = ("card", "alipay", "wechat_pay")


class SignatureError(ValueError):
    """The webhook's signature is missing, wrong, stale, or the body was altered."""


@dataclass(frozen=True)
class CheckoutSession:
    id: str
    url: str


def webhook_secret(config) -> str:
    """The configured signing secret, or, only where the demo parts run (development, tests,
    DEMO_MODE=1), one derived from SECRET_KEY for the demo checkout's own events."""
    configured = config.get("STRIPE_WEBHOOK_SECRET")
    if configured:
        return configured
    if not config.get("DEMO_PARTS"):
        raise RuntimeError("STRIPE_WEBHOOK_SECRET is not set")
    return "whsec_dev_" + hashlib.sha256(b"demo-webhooks:" + config["SECRET_KEY"].encode()).hexdigest()


def current_gateway():
    """The payment backend the application chose at start-up (``register_payments`` in ``create_app``)."""
    return current_app.extensions["payment_gateway"]


def choose_gateway(config, url_for_session):
    """The payment backend, chosen once at start-up: Stripe when its key is set, else the demo
    checkout where the demo parts may run. Raises RuntimeError when neither is allowed."""
    if config.get("STRIPE_SECRET_KEY"):
        return StripeGateway(config["STRIPE_SECRET_KEY"])
    if config.get("DEMO_PARTS"):
        return DemoGateway(url_for_session)
    raise RuntimeError("STRIPE_SECRET_KEY is not set and the demo checkout is off")


def verify_event(payload: bytes, signature: str | None, secret: str, tolerance: int) -> dict:
    """The event in ``payload`` when its Stripe-Signature is valid, signed within ``tolerance``
    seconds of now (in the past or the future), and the body is a JSON object; else SignatureError."""
    if not signature:
        raise SignatureError("missing Stripe-Signature header")
    try:
        stripe.WebhookSignature.verify_header(payload.decode("utf-8"), signature, secret, tolerance)
        event = json.loads(payload)
    except (stripe.SignatureVerificationError, ValueError, UnicodeDecodeError) as exc:
        raise SignatureError(str(exc)) from exc
    stamps = [part[2:] for part in signature.split(",") if part.strip().startswith("t=")]
    if not stamps or not stamps[0].strip().isdigit() or int(stamps[0]) > time.time() + tolerance:
        raise SignatureError("timestamp in the future")  # Stripe's library checks only the past
    if not isinstance(event, dict):
        raise SignatureError("the event is not a JSON object")
    return event


def sign(payload: str, secret: str) -> str:
    """A Stripe-Signature header for ``payload`` (the demo checkout signs its events with it)."""
    return stripe.WebhookSignature.generate_signature_header(payload, secret)


def _line_items(order) -> list[dict]:
    """The pack at its net price, and the tax as a line of its own (our rates, see billing.tax)."""
    items = [{"quantity": 1, "price_data": {
        "currency": order.currency.lower(), "unit_amount": order.net_cents,
        "product_data": {"name": f"{order.pack_label}: {order.credits} credits"}}}]
    if order.tax_cents:
        items.append({"quantity": 1, "price_data": {
            "currency": order.currency.lower(), "unit_amount": order.tax_cents,
            "product_data": {"name": f"VAT {order.tax_rate} %"}}})
    return items


class StripeGateway:
    name = "stripe"
    checkout_origins = ("https://checkout.stripe.com",)  # where checkout's form sends the browser (the CSP)

    def __init__(self, secret_key: str, http_client=None):
        self.client = stripe.StripeClient(secret_key, http_client=http_client, max_network_retries=2)

    def create_checkout_session(self, order, email: str, locale: str, success_url: str,
                                cancel_url: str) -> CheckoutSession:
        chinese = locale.startswith("zh") or order.currency.upper() == "CNY"
        params = {
            "mode": "payment",
            "client_reference_id": order.reference,
            "customer_email": email,
            "locale": "zh" if locale.startswith("zh") else "auto",
            "line_items": _line_items(order),
            # The buyer's tax id and address for the invoice (the webhook keeps what was entered),
            # and Stripe's own invoice beside ours.
            "tax_id_collection": {"enabled": True},
            "billing_address_collection": "required",  # the confirmed address decides the tax (billing.details)
            "customer_creation": "always",
            "invoice_creation": {"enabled": True, "invoice_data": {"metadata": {"order_reference": order.reference}}},
            "metadata": {"order_reference": order.reference},
            "payment_intent_data": {"metadata": {"order_reference": order.reference}},
            "expires_at": int(order.expires_at.replace(tzinfo=UTC).timestamp()),
            "success_url": success_url,
            "cancel_url": cancel_url,
        }
        if chinese:  # the methods Chinese buyers usually pay with, beside cards (async: see the webhooks)
            params["payment_method_types"] = list(CHINESE_PAYMENT_METHODS)
            params["payment_method_options"] = {"wechat_pay": {"client": "web"}}
        # Otherwise no payment_method_types: Checkout offers what the Stripe account has enabled.
        session = self.client.v1.checkout.sessions.create(params, {"idempotency_key": f"checkout-{order.reference}"})
        return CheckoutSession(session.id, session.url)

    def refund(self, order, amount_cents: int | None, reason_key: str) -> None:
        params = {"payment_intent": order.payment_intent_id, "metadata": {"order_reference": order.reference}}
        if amount_cents:
            params["amount"] = amount_cents
        self.client.v1.refunds.create(params, {"idempotency_key": f"refund-{order.reference}-{reason_key}"})


class DemoGateway:
    """No real payment: sessions are pages of this site that send signed events to our webhook."""

    name = "demo"
    checkout_origins = ()  # its checkout pages are ours

    def __init__(self, url_for_session):
        self.url_for_session = url_for_session

    def create_checkout_session(self, order, email, locale, success_url, cancel_url) -> CheckoutSession:
        session_id = "cs_demo_" + secrets.token_urlsafe(18)
        return CheckoutSession(session_id, self.url_for_session(session_id))

    def refund(self, order, amount_cents, reason_key) -> None:
        """Demo refunds are announced by a signed charge.refunded event (see billing.services)."""
