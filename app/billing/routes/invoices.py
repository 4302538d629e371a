"""Billing details on /account/billing (the organisation's; changed with MANAGE_BILLING), the
organisation's invoices and credit notes as pages and PDFs (VIEW), and what the billing pages show
of an order's documents and disputes."""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.billing import details, disputes, documents, invoices
from app.billing.blueprint import bp
from app.billing.forms import BillingDetailsForm
from app.billing.tax import InvalidTaxId
from app.organisations.access import current_membership, current_organisation, member
from app.organisations.models import Permission
from app.timeutil import utcnow


def _render_details(form: BillingDetailsForm, stored, status: int = 200):
    example = details.tax_of(10_000, form.country.data or (stored.country if stored else None),
                             stored.tax_id if stored else None, current_app.config)
    return render_template("billing/details.html", form=form, example=example, stored=stored,
                           may_change=current_membership().may(Permission.MANAGE_BILLING)), status


@bp.get("/account/billing")
@member(Permission.VIEW)
def edit_billing_details():
    """The name, address, country and tax id the organisation's invoices carry (and the tax they
    decide): every member reads them; the form is for members who may manage billing."""
    stored = details.of(current_organisation().id)
    form = BillingDetailsForm(formdata=None, obj=stored) if stored is not None else BillingDetailsForm(formdata=None)
    return _render_details(form, stored)


@bp.post("/account/billing")
@member(Permission.MANAGE_BILLING)
def save_billing_details():
    """Change the organisation's billing details; its next orders carry them."""
    organisation_id = current_organisation().id
    stored = details.of(organisation_id)
    form = BillingDetailsForm()
    if form.validate_on_submit():
        try:
            details.save(organisation_id, form.name.data, form.address.data, form.country.data, form.tax_id.data,
                         utcnow(), current_user)
        except InvalidTaxId:
            form.tax_id.errors.append(_("This is not a valid tax id for the chosen country: check its letters, "
                                        "digits and check digit."))
        else:
            flash(_("Billing details saved: the organisation's next orders and their invoices carry them."),
                  "success")
            return redirect(url_for("billing.edit_billing_details"), code=303)
    return _render_details(form, stored, 400)


def _own(number: str):
    document = invoices.find(number, current_organisation().id)
    if document is None:
        abort(404)
    return document


@bp.get("/account/invoices/<number>")
@member(Permission.VIEW)
def show_invoice(number: str):
    """An invoice or credit note of one of the organisation's orders, to read or print."""
    return documents.page(_own(number), order_link=True)


@bp.get("/account/invoices/<number>.pdf")
@member(Permission.VIEW)
def download_invoice(number: str):
    """The same document as a PDF."""
    return documents.download(_own(number))


@bp.context_processor
def order_extras() -> dict:
    """For the billing pages (the orders list and an order's receipt): an order's disputes, the
    credit notes its void notes cancel, the net credit. Functions, so a page that does not show
    them runs no query."""
    return {"disputes_of": disputes.of_order, "disputes_of_orders": disputes.of_orders,
            "disputed_credits": disputes.disputed_credits, "voided_notes": invoices.voided_notes,
            "net_credited": invoices.net_credited}
