"""The credit ledger: every change of a balance is a row."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.pricing import get_pricing
from app.retention import PERSONAL, Rule, register
from app.states import Transitions
from app.timeutil import utcnow


class CreditKind(StrEnum):
    """What a credit ledger entry is for."""

    SIGNUP_BONUS = "signup_bonus"
    PURCHASE = "purchase"
    REFUND = "refund"
    USAGE = "usage"
    ADJUSTMENT = "adjustment"
    DISPUTE = "dispute"


class OrderStatus(StrEnum):
    PENDING = "pending"
    PAID = "paid"
    FAILED = "failed"
    EXPIRED = "expired"
    REFUNDED = "refunded"
    PARTIALLY_REFUNDED = "partially_refunded"


PAID_STATUSES = (OrderStatus.PAID, OrderStatus.REFUNDED, OrderStatus.PARTIALLY_REFUNDED)  # credits were given
# A failed or expired checkout is still credited when Stripe reports the payment later; refunds
# (and failed refunds) move a paid order between paid, partly refunded and refunded.
ORDER_TRANSITIONS = Transitions("order", {
    OrderStatus.PENDING: {OrderStatus.PAID, OrderStatus.FAILED, OrderStatus.EXPIRED},
    OrderStatus.FAILED: {OrderStatus.PAID},
    OrderStatus.EXPIRED: {OrderStatus.PAID},
    OrderStatus.PAID: {OrderStatus.PARTIALLY_REFUNDED, OrderStatus.REFUNDED},
    OrderStatus.PARTIALLY_REFUNDED: {OrderStatus.PAID, OrderStatus.REFUNDED},
    OrderStatus.REFUNDED: {OrderStatus.PAID, OrderStatus.PARTIALLY_REFUNDED},
})


class CreditEntry(db.Model):
    __tablename__ = "credit_ledger"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    kind: Mapped[str] = mapped_column(db.String(20))
    amount: Mapped[int]  # positive: credits added; negative: credits used or removed
    # The API call a usage entry pays for: unique, so a call is never charged twice.
    call_id: Mapped[str | None] = mapped_column(db.String(32), unique=True)
    reason: Mapped[str | None] = mapped_column(db.String(200))
    # What a purchase or refund entry is for (purchase:<order>, refund:<refund id>): unique, so a
    # payment is credited and a refund taken back once, however many events announce it.
    source_key: Mapped[str | None] = mapped_column(db.String(300), unique=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


register(Rule(
    name="credit_ledger.kept",
    model=CreditEntry,
    action="keep",
    days_setting="ACCOUNT_PURGE_DAYS",
    default_days=30,
    description="Credit ledger entries are kept with the account: they are its billing record.",
    legal_basis="contract and accounting records while the account exists",
))


class Order(db.Model):
    """A credit-pack purchase. We keep order id, amount and status; card data never reaches us."""

    __tablename__ = "orders"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(db.String(20), unique=True)  # ORD-7KQ2-9XW4
    # SET NULL: the order outlives a deleted organisation and an erased buyer (tax law), without
    # the buyer's identity. The organisation owns it; ``placed_by_id`` is the member who bought.
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id", ondelete="SET NULL"),
                                                        index=True)
    placed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True,
                                                     info=PERSONAL)
    pack_id: Mapped[str] = mapped_column(db.String(40))
    pack_name: Mapped[str] = mapped_column(db.String(80))
    credits: Mapped[int]
    amount_cents: Mapped[int]
    currency: Mapped[str] = mapped_column(db.String(3))
    status: Mapped[str] = mapped_column(db.String(20), default=OrderStatus.PENDING, index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    paid_at: Mapped[datetime | None]
    # When its checkout session stops taking payment (CHECKOUT_EXPIRY_MINUTES after it opened):
    # an order still pending then is marked expired by `flask orders expire` or Stripe's event.
    expires_at: Mapped[datetime | None]
    checkout_session_id: Mapped[str | None] = mapped_column(db.String(255), unique=True)
    payment_intent_id: Mapped[str | None] = mapped_column(db.String(255), index=True)
    # The charge Stripe made for it (from charge.* events): what a dispute names when it names no
    # payment intent.
    charge_id: Mapped[str | None] = mapped_column(db.String(255), index=True)
    receipt_url: Mapped[str | None] = mapped_column(db.String(500))
    refunded_cents: Mapped[int] = mapped_column(default=0)  # see billing.webhooks.settle_refunds
    # The highest cumulative amount_refunded a charge.refunded event reported (Stripe's charge no
    # longer lists its refunds, so the refunds behind it may not be known one by one).
    charge_refunded_cents: Mapped[int] = mapped_column(default=0)
    credits_reversed: Mapped[int] = mapped_column(default=0)
    credit_shortfall: Mapped[int] = mapped_column(default=0)  # refunded credits already spent
    # The buyer's billing details as the invoice names them (copied from the account when the order
    # is made, completed from what Stripe Checkout collected), and the tax on the pack's price:
    # amount_cents is what is paid, tax_cents included. Kept with the order for tax law.
    buyer_name: Mapped[str | None] = mapped_column(db.String(200), info=PERSONAL)
    buyer_address: Mapped[str | None] = mapped_column(db.Text, info=PERSONAL)
    buyer_country: Mapped[str | None] = mapped_column(db.String(2))
    buyer_tax_id: Mapped[str | None] = mapped_column(db.String(40), info=PERSONAL)
    tax_cents: Mapped[int] = mapped_column(default=0, server_default="0")
    tax_rate: Mapped[str | None] = mapped_column(db.String(8))  # percent, as configured ("19", "5.5")
    tax_treatment: Mapped[str | None] = mapped_column(db.String(20))  # standard | reverse_charge | none
    payment_method: Mapped[str | None] = mapped_column(db.String(40))

    @property
    def pack_label(self) -> str:
        """The pack's name in the reader's language, from the price list by the pack's code; the
        name stored at purchase (English) for a pack no longer sold."""
        pack = get_pricing().pack(self.pack_id)
        return str(pack.name) if pack is not None else self.pack_name

    @property
    def net_cents(self) -> int:
        """The pack's price before tax (orders from before tax was charged have none)."""
        return self.amount_cents - (self.tax_cents or 0)


class RefundStatus(StrEnum):
    PENDING = "pending"
    REQUIRES_ACTION = "requires_action"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"


REFUND_STATUSES = tuple(RefundStatus)
# Stripe's refund lifecycle: a succeeded refund may still fail or be canceled later; a failed or
# canceled one is final (a late event naming an earlier state changes nothing).
REFUND_TRANSITIONS = Transitions("refund", {
    None: set(RefundStatus),
    RefundStatus.PENDING: {RefundStatus.REQUIRES_ACTION, RefundStatus.SUCCEEDED, RefundStatus.FAILED,
                           RefundStatus.CANCELED},
    RefundStatus.REQUIRES_ACTION: {RefundStatus.PENDING, RefundStatus.SUCCEEDED, RefundStatus.FAILED,
                                   RefundStatus.CANCELED},
    RefundStatus.SUCCEEDED: {RefundStatus.FAILED, RefundStatus.CANCELED},
})


class Refund(db.Model):
    """One Stripe refund, keyed on its own id: applied once, whatever event carries it, in any order."""

    __tablename__ = "refunds"

    id: Mapped[int] = mapped_column(primary_key=True)
    refund_id: Mapped[str] = mapped_column(db.String(255), unique=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    amount_cents: Mapped[int]
    status: Mapped[str] = mapped_column(db.String(20))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class DisputeStatus(StrEnum):
    WARNING_NEEDS_RESPONSE = "warning_needs_response"
    WARNING_UNDER_REVIEW = "warning_under_review"
    NEEDS_RESPONSE = "needs_response"
    UNDER_REVIEW = "under_review"
    WON = "won"
    LOST = "lost"
    WARNING_CLOSED = "warning_closed"
    PREVENTED = "prevented"


DISPUTE_OPEN = (DisputeStatus.WARNING_NEEDS_RESPONSE, DisputeStatus.WARNING_UNDER_REVIEW,
                DisputeStatus.NEEDS_RESPONSE, DisputeStatus.UNDER_REVIEW)
DISPUTE_CLOSED = (DisputeStatus.WON, DisputeStatus.LOST, DisputeStatus.WARNING_CLOSED, DisputeStatus.PREVENTED)
DISPUTE_STATUSES = DISPUTE_OPEN + DISPUTE_CLOSED
# Events arrive in any order: an open dispute may move to any other state; a closed one is final.
DISPUTE_TRANSITIONS = Transitions("dispute", {
    None: set(DisputeStatus), **{state: set(DisputeStatus) - {state} for state in DISPUTE_OPEN}})


class Dispute(db.Model):
    """A chargeback (or an inquiry) on an order's payment, keyed on Stripe's dispute id: recorded
    once, whatever event carries it and in whatever order. A closed status is final.

    ``credits_held``: the credits taken from the buyer's balance for it (below zero if need be):
    held while the dispute is open, given back when it is won, kept when it is lost."""

    __tablename__ = "disputes"

    id: Mapped[int] = mapped_column(primary_key=True)
    dispute_id: Mapped[str] = mapped_column(db.String(255), unique=True)
    # Null while the payment it names is not known here (the dispute is still recorded and shown).
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    charge_id: Mapped[str | None] = mapped_column(db.String(255), index=True)
    payment_intent_id: Mapped[str | None] = mapped_column(db.String(255))
    amount_cents: Mapped[int]
    currency: Mapped[str] = mapped_column(db.String(3))
    reason: Mapped[str] = mapped_column(db.String(40))
    status: Mapped[str] = mapped_column(db.String(30), index=True)
    credits_held: Mapped[int] = mapped_column(default=0)
    disputed_at: Mapped[datetime | None]  # when the buyer's bank opened it (Stripe's ``created``)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None]

    @property
    def is_open(self) -> bool:
        return self.status in DISPUTE_OPEN


class WebhookEvent(db.Model):
    """Each Stripe event id is stored once: a second delivery finds it and changes nothing."""

    __tablename__ = "webhook_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[str] = mapped_column(db.String(255), unique=True)
    type: Mapped[str] = mapped_column(db.String(80))
    received_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    order_reference: Mapped[str | None] = mapped_column(db.String(20))
    # For a refund that arrives before its order is known as paid: applied when payment completes.
    payment_intent_id: Mapped[str | None] = mapped_column(db.String(255), index=True)
    refunded_cents: Mapped[int | None]
    outcome: Mapped[str] = mapped_column(db.String(40), default="")


register(Rule(
    name="orders.expired",
    model=Order,
    action="delete",
    days_setting="ORDER_RETENTION_DAYS",
    default_days=3650,
    description="Orders are kept N days (10 years, tax law), also after the account is erased, then deleted.",
    selects=lambda cutoff: Order.created_at < cutoff,
))
register(Rule(
    name="disputes.expired",
    model=Dispute,
    action="delete",
    days_setting="ORDER_RETENTION_DAYS",
    default_days=3650,
    description="Disputes are kept with their order (10 years, tax law), then deleted.",
    selects=lambda cutoff: Dispute.received_at < cutoff,
))
register(Rule(
    name="webhook_events.expired",
    model=WebhookEvent,
    action="delete",
    days_setting="WEBHOOK_EVENT_DAYS",
    default_days=90,
    description="Stripe event ids (kept to ignore repeated deliveries) are deleted after N days.",
    selects=lambda cutoff: WebhookEvent.received_at < cutoff,
))


class AlertRecipient(db.Model):
    """Another address that gets an account's usage alerts, once its owner confirmed it by link."""

    __tablename__ = "alert_recipients"
    __table_args__ = (db.UniqueConstraint("organisation_id", "email"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(db.String(254), info=PERSONAL)
    token_hash: Mapped[str | None] = mapped_column(db.String(64), unique=True)  # the link's, until confirmed
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    verified_at: Mapped[datetime | None]


register(Rule(
    name="alert_recipients.unconfirmed",
    model=AlertRecipient,
    action="delete",
    days_setting="ALERT_RECIPIENT_CONFIRM_DAYS",
    default_days=7,
    description="An alert address never confirmed by its link is deleted after N days.",
    selects=lambda cutoff: (AlertRecipient.verified_at.is_(None)) & (AlertRecipient.created_at < cutoff),
))
register(Rule(
    name="alert_recipients.kept",
    model=AlertRecipient,
    action="keep",
    days_setting="ACCOUNT_PURGE_DAYS",
    default_days=30,
    description="Confirmed alert addresses are kept until the customer removes them or the account is erased.",
    legal_basis="contract: the customer asked for alerts to go there",
))


class BillingDetails(db.Model):
    """What a customer's invoices name them by: kept while the account exists, copied to each order."""

    __tablename__ = "billing_details"

    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"),
                                                 primary_key=True)
    name: Mapped[str] = mapped_column(db.String(200), info=PERSONAL)
    address: Mapped[str] = mapped_column(db.Text, info=PERSONAL)
    country: Mapped[str] = mapped_column(db.String(2))
    tax_id: Mapped[str | None] = mapped_column(db.String(40), info=PERSONAL)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


register(Rule(
    name="billing_details.kept",
    model=BillingDetails,
    action="keep",
    days_setting="ACCOUNT_PURGE_DAYS",
    default_days=30,
    description="Billing details are kept while the account exists and deleted when it is erased (each "
                "invoice keeps its own copy).",
    legal_basis="contract: they go on the customer's invoices",
))


class InvoiceKind(StrEnum):
    INVOICE = "invoice"
    CREDIT_NOTE = "credit_note"
    VOID_NOTE = "void_note"


class InvoiceSequence(db.Model):
    """The last number given in one series (invoices or credit notes) of one year: numbers are taken
    by an atomic increment in the paying transaction, so a rolled-back payment leaves no gap."""

    __tablename__ = "invoice_sequences"

    kind: Mapped[str] = mapped_column(db.String(20), primary_key=True)
    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    last: Mapped[int] = mapped_column(default=0)


class Invoice(db.Model):
    """An invoice for a paid order, a credit note for a refund of one (``refers_to``: the invoice),
    or a void note cancelling a credit note whose refund failed (``refers_to``: the note), as issued:
    the seller's and the buyer's details are copied, so a later change alters no invoice."""

    __tablename__ = "invoices"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(db.String(20))  # invoice | credit_note | void_note
    # INV-2026-000001, CN-2026-000001, CNV-2026-000001 (a void note cancels the credit note it refers to)
    number: Mapped[str] = mapped_column(db.String(30), unique=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    refers_to_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id", ondelete="CASCADE"))
    issued_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    currency: Mapped[str] = mapped_column(db.String(3))
    net_cents: Mapped[int]
    tax_cents: Mapped[int]
    total_cents: Mapped[int]
    tax_rate: Mapped[str | None] = mapped_column(db.String(8))
    tax_treatment: Mapped[str] = mapped_column(db.String(20))
    seller: Mapped[str] = mapped_column(db.Text)  # JSON: name, address, country, tax_id, email
    buyer_name: Mapped[str | None] = mapped_column(db.String(200), info=PERSONAL)
    buyer_address: Mapped[str | None] = mapped_column(db.Text, info=PERSONAL)
    buyer_country: Mapped[str | None] = mapped_column(db.String(2))
    buyer_tax_id: Mapped[str | None] = mapped_column(db.String(40), info=PERSONAL)
    description: Mapped[str] = mapped_column(db.String(200))  # the line item, in English
    credits: Mapped[int]
    payment_method: Mapped[str | None] = mapped_column(db.String(40))
    paid_at: Mapped[datetime | None]
    locale: Mapped[str] = mapped_column(db.String(16), default="en")


register(Rule(
    name="invoices.expired",
    model=Invoice,
    action="delete",
    days_setting="ORDER_RETENTION_DAYS",
    default_days=3650,
    description="Invoices and credit notes are kept N days (10 years, tax law) as issued, also after the "
                "account is erased, then deleted.",
    selects=lambda cutoff: Invoice.issued_at < cutoff,
))
