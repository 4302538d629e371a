"""The organisation's usage alerts and spend limit on /account/alerts (every member reads them; a
member who may manage billing changes them), and the link that confirms another address for them."""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import format_decimal
from flask_babel import gettext as _
from flask_login import current_user

from app.billing import alerts
from app.billing.blueprint import bp
from app.billing.forms import AlertRecipientForm, AlertSettingsForm
from app.database import form_id
from app.forms import BaseForm
from app.metering.caps import next_month
from app.metering.services import shown_balance
from app.organisations.access import current_membership, current_organisation, member
from app.organisations.models import Permission
from app.security import public
from app.timeutil import utcnow
from app.usage.services import month_totals


def _render(settings_form=None, recipient_form=None, status=200):
    organisation, now = current_organisation(), utcnow()
    if settings_form is None:
        settings_form = AlertSettingsForm(formdata=None, data={
            "thresholds": alerts.thresholds_of(organisation, current_app.config),
            "spend_limit": organisation.monthly_spend_limit})
    levels = [int(v) for v in (organisation.alert_levels or "").split(",") if v]
    return render_template(
        "billing/alerts.html", settings_form=settings_form, recipient_form=recipient_form or AlertRecipientForm(
            formdata=None), action_form=BaseForm(), recipients=alerts.recipients(organisation.id), levels=levels,
        levels_text=", ".join(format_decimal(level) for level in levels), people=alerts.people(organisation.id),
        may_change=current_membership().may(Permission.MANAGE_BILLING),
        balance=shown_balance(organisation.id), use=alerts.recent_use(organisation.id, now.date()),
        spent=month_totals(organisation.id, now.date())["credits"], resets=next_month(now)), status


@bp.get("/account/alerts")
@member(Permission.VIEW)
def show_alerts():
    """Low-balance alerts, the addresses they go to, and the monthly spend limit."""
    return _render()


@bp.post("/account/alerts")
@member(Permission.MANAGE_BILLING)
def save_alerts():
    """Save the thresholds and the spend limit; the gateway follows them from the next call."""
    form = AlertSettingsForm()
    if not form.validate_on_submit():
        return _render(settings_form=form, status=400)
    levels = alerts.save_settings(current_organisation(), form.thresholds.data, form.spend_limit.data,
                                  current_app.config, utcnow().date(), current_user)
    if levels:
        flash(_("Alerts saved: you will hear when your balance falls to %(levels)s credits.",
                levels=", ".join(format_decimal(level) for level in levels)), "success")
    elif form.thresholds.data.strip():
        flash(_("Alerts saved. Your shares have nothing to apply to until the organisation has used or bought "
                "credits."), "success")
    else:
        flash(_("Saved: no low-balance e-mails."), "success")
    return redirect(url_for("billing.show_alerts"), code=303)


@bp.post("/account/alerts/recipients")
@member(Permission.MANAGE_BILLING)
def add_alert_recipient():
    """Add another address; it gets alerts once it follows the link we e-mail it."""
    form = AlertRecipientForm()
    if not form.validate_on_submit():
        return _render(recipient_form=form, status=400)
    try:
        added = alerts.add_recipient(current_organisation(), current_user, form.email.data, current_app.config,
                                     utcnow())
    except alerts.RecipientLimitReached:
        form.email.errors.append(_("At most %(count)s other addresses; remove one first.",
                                   count=alerts.MAX_RECIPIENTS))
        return _render(recipient_form=form, status=400)
    if added is None:
        flash(_("%(email)s already gets your alerts.", email=form.email.data.lower()), "info")
    else:
        flash(_("We sent a link to %(email)s: alerts go there once it is opened.", email=added.email), "success")
    return redirect(url_for("billing.show_alerts"), code=303)


@bp.post("/account/alerts/recipients/remove")
@member(Permission.MANAGE_BILLING)
def remove_alert_recipient():
    """Stop sending alerts to one of the other addresses (and forget it)."""
    form = BaseForm()
    recipient_id = form_id(request.form.get("recipient"))
    if form.validate_on_submit() and recipient_id and alerts.remove_recipient(current_organisation(), recipient_id,
                                                                                             current_user):
        flash(_("That address no longer gets your alerts, and we deleted it."), "success")
    return redirect(url_for("billing.show_alerts"), code=303)


@bp.get("/alerts/confirm/<token>")
@public
def confirm_alert_recipient(token: str):
    """The link e-mailed to another address: from now on it gets the organisation's alerts."""
    recipient = alerts.confirm_recipient(token, current_app.config, utcnow())
    if recipient is None:
        return render_template("billing/alert_confirmed.html", confirmed=False), 400
    return render_template("billing/alert_confirmed.html", confirmed=True, email=recipient.email)
