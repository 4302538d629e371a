"""Staff console: orders, refunds and credit adjustments (billing and admin roles)."""

from __future__ import annotations

from flask import Response, abort, current_app, flash, redirect, render_template, request, stream_with_context, url_for
from flask_babel import format_currency, format_decimal
from flask_babel import gettext as _
from flask_login import current_user

from app.audit.models import AuditAction
from app.auth import services as auth_services
from app.auth.models import User
from app.billing import amounts, disputes, documents, gateway, invoices, refunds, reports
from app.billing import services as billing
from app.billing.forms import AdjustCreditsForm, OrderFilterForm, RefundForm
from app.extensions import db
from app.organisations import services as organisations
from app.pricing import get_pricing
from app.security import staff
from app.staff import services as staff_services
from app.staff.blueprint import bp
from app.staff.forms import StaffActionForm, resubmitted
from app.timeutil import utcnow


def _order_filter():
    """The filters of the request's query string, or None with the form's messages."""
    form = OrderFilterForm(request.args)
    if not form.validate():
        return form, None
    currency = get_pricing().currency
    return form, reports.OrderFilter(
        query=(form.q.data or "").strip(), status=form.status.data or "", since=form.since.data, until=form.until.data,
        min_cents=amounts.rounded_to_minor(form.min_amount.data, currency),
        max_cents=amounts.rounded_to_minor(form.max_amount.data, currency))


@bp.get("/orders")
@staff("billing", "admin")
def list_orders():
    """Open disputes first; then orders, newest first, filtered by reference or e-mail, status, date
    and amount, with their totals per month."""
    form, chosen = _order_filter()
    open_disputes = disputes.open_disputes()
    if chosen is None:
        return render_template("staff/orders.html", form=form, rows=[], totals=[], open_disputes=open_disputes), 400
    staff_services.record_order_search(current_user, chosen.query, AuditAction.BILLING_ORDERS_SEARCH,
                                       current_app.config, utcnow(), request.remote_addr)
    return render_template("staff/orders.html", form=form, rows=reports.find_orders(chosen),
                           totals=reports.monthly_totals(chosen), export_query=request.query_string.decode(),
                           open_disputes=open_disputes)


@bp.get("/orders.csv")
@staff("billing", "admin")
def export_orders():
    """The filtered orders as CSV for accounting (audited: it names customers)."""
    form, chosen = _order_filter()
    if chosen is None:
        abort(400)
    staff_services.record_orders_export(current_user, request.query_string.decode()[:200], utcnow(),
                                        request.remote_addr)
    staff_services.record_order_search(current_user, chosen.query, AuditAction.BILLING_ORDERS_EXPORT,
                                       current_app.config, utcnow(), request.remote_addr)
    return Response(stream_with_context(reports.csv_lines(chosen)), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="orders-{utcnow():%Y%m%d}.csv"', "Cache-Control": "no-store"})


@bp.route("/orders/<reference>", methods=["GET", "POST"])
@staff("billing", "admin")
def show_order(reference: str):
    """One order, with a refund form. The refund's effect arrives with Stripe's webhook."""
    order = billing.find_order(reference)
    if order is None:
        abort(404)
    buyer = db.session.get(User, order.placed_by_id) if order.placed_by_id else None
    form = RefundForm()
    if request.method == "GET":
        staff_services.record_order_view(current_user, order, current_app.config, utcnow(), request.remote_addr)
    if request.method != "POST" or not form.validate_on_submit():
        return _render_order(order, buyer, form, 400 if form.errors else 200)
    try:
        amount = refunds.refundable_amount(order, amounts.to_minor(form.amount.data, order.currency))
        if not StaffActionForm().is_confirmed:
            return _confirm_refund(order, refunds.preview(order, amount), form)
        done = refunds.refund(order, amount, current_user, form.reason.data, gateway.current_gateway(),
                              current_app.config, utcnow(), request.remote_addr)
    except amounts.TooPrecise:
        form.amount.errors.append(_("Use at most the currency's decimals, like 4.50."))
    except refunds.TooMuch as exc:
        form.amount.errors.append(_("Only %(left)s is left to refund on this order; nothing was refunded.",
                                    left=format_currency(exc.left_cents / 100, order.currency)))
    except refunds.NotRefundable:
        flash(_("This order cannot be refunded."), "error")
        return redirect(url_for("staff.show_order", reference=reference), code=303)
    else:
        flash(_("Refund sent to Stripe. The order changes when Stripe confirms it.") if done == "requested"
              else _("Demo refund applied."), "success")
        return redirect(url_for("staff.show_order", reference=reference), code=303)
    return _render_order(order, buyer, form, 400)


def _render_order(order, buyer, form, status=200):
    return render_template("staff/order.html", order=order, buyer=buyer, form=form,
                           documents=invoices.documents_of(order), voided=invoices.voided_notes(order),
                           credited=invoices.net_credited(order), disputes=disputes.of_order(order),
                           refund_blocked=disputes.blocks_refund(order)), status


def _confirm_refund(order, preview: refunds.Preview, form):
    price = format_currency(preview.amount_cents / 100, order.currency)
    consequence = _("%(amount)s goes back to the buyer's means of payment, and %(credits)s credits are taken back: "
                    "their balance goes from %(before)s to %(after)s credits.", amount=price,
                    credits=format_decimal(preview.credits_back), before=format_decimal(preview.balance),
                    after=format_decimal(preview.balance_after))
    if preview.shortfall:
        consequence += " " + _("%(count)s of those credits are already spent and cannot be taken back.",
                               count=format_decimal(preview.shortfall))
    return render_template(
        "staff/confirm.html", title=_("Refund %(amount)s?", amount=price), button=_("Refund %(amount)s", amount=price),
        consequence=consequence + " " + _("The buyer is e-mailed a credit note. This cannot be undone."),
        action_url=url_for("staff.show_order", reference=order.reference), fields=resubmitted(form),
        cancel_url=url_for("staff.show_order", reference=order.reference))


def _document(number: str):
    document = invoices.find(number)
    if document is None:
        abort(404)
    return document


@bp.get("/invoices/<number>")
@staff("billing", "admin")
def show_invoice(number: str):
    """An invoice or credit note as the customer sees it (audited: it names the buyer)."""
    document = _document(number)
    staff_services.record_document_read(current_user, document, AuditAction.BILLING_INVOICE_VIEW,
                                        current_app.config, utcnow(), request.remote_addr)
    return documents.page(document)


@bp.get("/invoices/<number>.pdf")
@staff("billing", "admin")
def download_invoice(number: str):
    """The same document as a PDF (audited)."""
    document = _document(number)
    staff_services.record_document_read(current_user, document, AuditAction.BILLING_INVOICE_DOWNLOAD,
                                        current_app.config, utcnow(), request.remote_addr)
    return documents.download(document)


@bp.route("/credits", methods=["GET", "POST"])
@staff("billing", "admin")
def adjust_credits():
    """Add or remove a customer's credits, with a mandatory reason (audited, in the ledger)."""
    form = AdjustCreditsForm()
    if form.validate_on_submit():
        user = auth_services.find_user_by_email(form.email.data)
        if user is None:
            form.email.errors.append(_("No account has this e-mail address."))
        else:
            try:
                staff_services.adjust_credits(user, form.amount.data, form.reason.data, current_user,
                                              current_app.config, utcnow(), request.remote_addr)
            except billing.InsufficientCredits as exc:
                form.amount.errors.append(_("The balance is only %(balance)s credits.", balance=exc.balance))
            else:
                flash(_("The balance of %(email)s is now %(balance)s credits.", email=user.email,
                        balance=organisations.personal_organisation(user.id).credit_balance), "success")
                return redirect(url_for("staff.adjust_credits"), code=303)
    return render_template("staff/credits.html", form=form), 400 if form.errors else 200
