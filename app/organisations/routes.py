"""Organisation views: the list of a person's organisations, creating one, switching between them."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.organisations import access, services
from app.organisations.blueprint import bp, init_app
from app.organisations.forms import CreateOrganisationForm, SwitchOrganisationForm
from app.security import customer, safe_next
from app.timeutil import utcnow

__all__ = ["bp", "init_app"]


def _render_list(form=None, status=200):
    return render_template("organisations/list.html", memberships=services.memberships_of(current_user.id),
                           current=access.current_membership(), form=form or CreateOrganisationForm(formdata=None),
                           switch_form=SwitchOrganisationForm(formdata=None)), status


@bp.get("/account/organisations")
@customer
def list_organisations():
    """The organisations the signed-in person belongs to, their role in each, and a form for a new one."""
    return _render_list()


@bp.post("/account/organisations")
@customer
def create_organisation():
    """Create a team organisation owned by the signed-in person, and work in it."""
    form = CreateOrganisationForm()
    if not form.validate():
        return _render_list(form, 400)
    if not current_user.is_verified:
        form.name.errors.append(_("Confirm your e-mail address before creating an organisation."))
        return _render_list(form, 400)
    if len(services.memberships_of(current_user.id)) >= services.MAX_ORGANISATIONS:
        form.name.errors.append(_("You belong to %(count)s organisations, the most one person can.",
                                  count=services.MAX_ORGANISATIONS))
        return _render_list(form, 400)
    organisation = services.create_organisation(current_user, form.name.data, utcnow())
    access.choose(organisation.id)
    flash(_("%(name)s is created and you work in it now. Invite your team from its Team page.",
            name=organisation.display_name), "success")
    return redirect(url_for("account.show_dashboard"), code=303)


@bp.post("/account/organisation")
@customer
def switch_organisation():
    """Work in another organisation the signed-in person belongs to (remembered in this browser)."""
    form = SwitchOrganisationForm()
    if not form.validate():
        abort(400)
    chosen = access.choose(form.organisation.data)
    if chosen is None:
        abort(404)
    flash(_("You now work in %(name)s.", name=chosen.organisation.display_name), "success")
    return redirect(safe_next(request.form.get("next"), url_for("account.show_dashboard")), code=303)
