"""Staff console: organisations. Search, the audited record (its members and roles, keys, ledger
and orders), suspension and credit adjustments."""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from app.audit import access
from app.audit.models import AccessCategory
from app.billing import services as billing
from app.extensions import db
from app.keys import services as key_services
from app.organisations import members
from app.organisations import services as organisation_services
from app.organisations.models import Organisation
from app.security import staff
from app.staff import grants
from app.staff import organisations as staff_organisations
from app.staff.blueprint import bp
from app.staff.forms import OpenRecordForm, OrganisationActionForm, first_error, resubmitted
from app.timeutil import utcnow
from app.usage import services as usage_services


@bp.get("/organisations")
@staff()
def find_organisations():
    """Search organisations by a member's e-mail, their name, a key prefix or an order reference."""
    query = (request.args.get("q") or "").strip()[:254]
    found = staff_organisations.find(query)
    staff_organisations.record_search(current_user, query, found, current_app.config, utcnow(), request.remote_addr)
    owners = {o.id: [p.email for p in organisation_services.owners(o.id)] for o in found}
    return render_template("staff/organisations.html", query=query, organisations=found, owners=owners)


def _organisation(organisation_id: int) -> Organisation:
    found = db.session.get(Organisation, organisation_id)
    if found is None:
        abort(404)
    return found


@bp.route("/organisations/<int:organisation_id>", methods=["GET", "POST"])
@staff()
def show_organisation(organisation_id: int):
    """An organisation's record: opening it needs a reason (audited, shown to its owners and admins)."""
    organisation, grant_key = _organisation(organisation_id), f"org:{organisation_id}"
    action_url = url_for("staff.show_organisation", organisation_id=organisation_id)
    if request.method == "POST":
        form = OpenRecordForm()
        if not form.validate_on_submit():
            return render_template("staff/user_reason.html", action_url=action_url, categories=access.CATEGORIES,
                                   form=form.data, missing=True), 400
        entry = staff_organisations.open_record(current_user, organisation, AccessCategory(form.category.data),
                                                form.reference.data, form.reason.data, current_app.config, utcnow(),
                                                request.remote_addr)
        grants.remember(grant_key, entry)
        return redirect(action_url, code=303)
    opened = grants.opened(grant_key)
    if opened is None:
        return render_template("staff/user_reason.html", action_url=action_url, categories=access.CATEGORIES, form={})
    staff_organisations.record_view(current_user, organisation, opened.reason, utcnow(), request.remote_addr)
    return render_template(
        "staff/organisation.html", organisation=organisation, reason=opened.reason, now=utcnow(),
        members=members.members(organisation.id), keys=key_services.all_keys(organisation),
        ledger=billing.ledger(organisation.id, limit=50), orders=billing.orders_of(organisation.id),
        month=usage_services.month_totals(organisation.id, utcnow().date()))


CONFIRM = {"suspend": (_l("Suspend this organisation?"), _l("Every API key of the organisation stops on its next "
                                                            "call until the suspension is lifted. Its owners are "
                                                            "told by e-mail."), _l("Suspend"))}
DONE = {"suspend": _l("The organisation is suspended: its keys get 403 until the suspension is lifted."),
        "unsuspend": _l("The suspension is lifted: the organisation's keys work again."),
        "credits": _l("The credits are adjusted; the owners and billing members were told.")}
ROLES = {"suspend": ("admin", "support"), "unsuspend": ("admin", "support"), "credits": ("admin", "billing")}


@bp.post("/organisations/<int:organisation_id>/action")
@staff()
def act_on_organisation(organisation_id: int):
    """Suspend, lift a suspension or adjust credits; each needs its role, is audited and told."""
    organisation, form = _organisation(organisation_id), OrganisationActionForm()
    back = url_for("staff.show_organisation", organisation_id=organisation_id)
    action = form.action.data
    if action not in ROLES:
        abort(400)
    if not current_user.has_role(*ROLES[action]):
        abort(403)
    if not form.validate_on_submit():
        flash(first_error(form), "error")
        return redirect(back, code=303)
    if action == "credits" and not form.amount.data:
        flash(_("Give a non-zero number of credits."), "error")
        return redirect(back, code=303)
    if action in CONFIRM and not form.is_confirmed:
        title, consequence, button = CONFIRM[action]
        return render_template("staff/confirm.html", title=title, consequence=consequence, button=button,
                               action_url=url_for("staff.act_on_organisation", organisation_id=organisation_id),
                               fields=resubmitted(form), cancel_url=back)
    now, config, ip = utcnow(), current_app.config, request.remote_addr
    if action == "credits":
        try:
            staff_organisations.adjust_credits(current_user, organisation, form.amount.data, form.reason.data,
                                               config, now, ip)
        except billing.InsufficientCredits as exc:
            flash(_("The balance is only %(balance)s credits.", balance=exc.balance), "error")
            return redirect(back, code=303)
    else:
        staff_organisations.set_suspended(current_user, organisation, action == "suspend", form.reason.data, config,
                                          now, ip)
    flash(str(DONE[action]), "success")
    return redirect(back, code=303)
