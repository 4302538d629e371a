"""The words of an invoice, credit note or void note, in the language it was issued in: one source for its
HTML page and its PDF (``pdf.render``), which ``page`` and ``download`` answer with (the
customer's and the staff console's views alike)."""

from __future__ import annotations

import json

from babel import Locale
from flask import Response, render_template
from flask_babel import force_locale, format_currency, format_date, format_decimal
from flask_babel import gettext as _

from app.billing import invoices, pdf
from app.billing.models import Invoice, InvoiceKind
from app.labels import label
from app.pricing import get_pricing


def _money(cents: int, currency: str) -> str:
    return format_currency(cents / 100, currency)


def _country(code: str | None, locale: str) -> str:
    if not code:
        return ""
    return Locale.parse(locale.replace("_Hans", "_Hans_CN") if locale.startswith("zh") else locale).territories.get(
        code.upper(), code.upper())


def _seller_block(seller: dict, locale: str) -> str:
    """The seller's name, address, country (once: not again when the address ends with it, in
    English or the document's language), VAT id and e-mail."""
    address = [line for line in (seller["address"] or "").splitlines() if line.strip()]
    code = seller["country"]
    names = {code.casefold(), _country(code, locale).casefold(), _country(code, "en").casefold()}
    if address and address[-1].strip().casefold() in names:
        address.pop()
    return "\n".join([seller["name"], *address, _country(seller["country"], locale),
                      _("VAT ID: %(id)s", id=seller["tax_id"]), seller["email"]])


def _buyer_block(doc: Invoice, reference: str, locale: str) -> str:
    lines = [doc.buyer_name or _("Customer of order %(reference)s", reference=reference)]
    lines += (doc.buyer_address or "").splitlines()
    if doc.buyer_country:
        lines.append(_country(doc.buyer_country, locale))
    if doc.buyer_tax_id:
        lines.append(_("VAT ID: %(id)s", id=doc.buyer_tax_id))
    return "\n".join(lines)


def _item(doc: Invoice, pack_id: str) -> str:
    pack = get_pricing().pack(pack_id)
    name = str(pack.name) if pack is not None else doc.description.split(":")[0]
    return _("%(pack)s pack: %(credits)s credits", pack=name, credits=format_decimal(doc.credits))


def words(doc: Invoice, order, refers_to: Invoice | None = None) -> dict:
    """Everything the document says, translated into its language."""
    seller = json.loads(doc.seller)
    with force_locale(doc.locale):
        credit_note, void_note = doc.kind == InvoiceKind.CREDIT_NOTE, doc.kind == InvoiceKind.VOID_NOTE
        sign = -1 if credit_note else 1  # a void note takes back what its credit note credited
        facts = [(_("Date of issue"), format_date(doc.issued_at, "long")), (_("Order"), order.reference)]
        if credit_note and refers_to is not None:
            facts.append((_("Credits invoice"), refers_to.number))
        if void_note and refers_to is not None:
            facts.append((_("Cancels credit note"), refers_to.number))
        if doc.paid_at:
            facts.append((_("Paid"), format_date(doc.paid_at, "long")))
        if doc.payment_method:
            facts.append((_("Payment method"), str(label("payment_method", doc.payment_method))))
        rows = [(_item(doc, order.pack_id), _money(sign * doc.net_cents, doc.currency), False)]
        notes = []
        if doc.tax_treatment == "standard":
            rows.append((_("VAT %(rate)s %%", rate=doc.tax_rate), _money(sign * doc.tax_cents, doc.currency), False))
        elif doc.tax_treatment == "reverse_charge":
            rows.append((_("VAT 0 %% (reverse charge)"), _money(0, doc.currency), False))
            notes.append(_("Reverse charge: the VAT is to be accounted for by the recipient (Article 196 of "
                           "Directive 2006/112/EC)."))
        else:
            notes.append(_("No VAT is charged on this supply to the buyer's country."))
        rows.append((_("Total"), _money(sign * doc.total_cents, doc.currency), True))
        if credit_note:
            notes.append(_("The amount is refunded to the original means of payment; the credits it bought are "
                           "taken back."))
        elif void_note:
            notes.append(_("The refund of credit note %(number)s did not go through: the amount was not returned, "
                           "so that credit note is void and no longer credits the invoice. The credits it took "
                           "back are yours again.", number=refers_to.number if refers_to is not None else ""))
        elif doc.paid_at:
            notes.append(_("Paid in full. Thank you."))
        title = _("Credit note") if credit_note else _("Cancellation of a credit note") if void_note else _("Invoice")
        return {
            "title": title, "number": doc.number, "facts": facts,
            "from": _("Seller"), "to": _("Bill to"), "seller": {**seller, "block": _seller_block(seller, doc.locale)},
            "buyer": _buyer_block(doc, order.reference, doc.locale), "rows": rows, "notes": notes,
        }


def page(document: Invoice, order_link: bool = False) -> str:
    """The document's printable page; ``order_link``: with a link to the order's page (the
    customer's view, where the order is the current organisation's)."""
    order = invoices.order_of(document)
    credited = invoices.net_credited(order) if document.kind == InvoiceKind.INVOICE else 0
    return render_template("billing/invoice.html", document=document, order=order, credited=credited,
                           order_link=order_link, words=words(document, order, invoices.refers_to(document)))


def download(document: Invoice) -> Response:
    """The document as a PDF attachment, never cached."""
    order = invoices.order_of(document)
    body = pdf.render(words(document, order, invoices.refers_to(document)))
    return Response(body, mimetype="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="{document.number}.pdf"', "Cache-Control": "private, no-store"})
