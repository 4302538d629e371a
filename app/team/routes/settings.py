"""The organisation's own settings: its owners download its records and close it."""

from __future__ import annotations

from flask import Response, current_app, flash, redirect, render_template, stream_with_context, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.auth.guards import recent_auth_required
from app.organisations import events
from app.organisations.access import current_membership, member
from app.organisations.forms import CloseOrganisationForm
from app.organisations.models import Permission, TeamAction
from app.rights import organisations as closing
from app.team.blueprint import bp
from app.timeutil import utcnow


def _render(form=None, status=200):
    return render_template("team/settings.html", working=current_membership(),
                           form=form or CloseOrganisationForm(formdata=None)), status


@bp.get("/account/organisation/settings")
@member(Permission.MANAGE_ORGANISATION)
def show_settings():
    """The organisation's export and its closing (owners)."""
    return _render()


@bp.get("/account/organisation/export")
@member(Permission.MANAGE_ORGANISATION)
@recent_auth_required
def export_organisation():
    """The organisation's records as a ZIP (keys, usage, calls, ledger, orders, members, team log)."""
    now, organisation = utcnow(), current_membership().organisation
    events.record(organisation.id, current_user, TeamAction.ORGANISATION_EXPORT, now)
    body = stream_with_context(closing.export_zip(organisation, current_app.config, now))
    return Response(body, mimetype="application/zip", headers={
        "Content-Disposition": f'attachment; filename="organisation-{organisation.id}-{now:%Y%m%d}.zip"',
        "Cache-Control": "no-store"})


@bp.post("/account/organisation/close")
@member(Permission.MANAGE_ORGANISATION)
@recent_auth_required
def close_organisation():
    """Close a team organisation (typing its name confirms it): its keys stop at once."""
    form, organisation = CloseOrganisationForm(), current_membership().organisation
    if organisation.personal:
        flash(_("Your personal organisation closes with your account, on your Privacy page."), "error")
        return redirect(url_for("team.show_settings"), code=303)
    if not form.validate_on_submit() or form.confirm_name.data != organisation.name:
        if form.confirm_name.data:
            form.confirm_name.errors.append(_("That is not the organisation's name."))
        return _render(form, 400)
    revoked = closing.close_organisation(organisation, current_user, current_app.config, utcnow())
    flash(_("%(name)s is closed; %(count)s keys were revoked. Its members were told.", name=organisation.name,
            count=revoked), "success")
    return redirect(url_for("organisations.list_organisations"), code=303)


