"""The team page of the organisation worked in: its members and their roles, invitations by
e-mail, changing roles, removing members (with the keys they made) and leaving; and the
invitation link's page."""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.keys import services as key_services
from app.organisations import access, members
from app.organisations.access import current_membership, member
from app.organisations.forms import InviteForm, RemoveMemberForm, RoleForm
from app.organisations.models import Permission
from app.security import customer, public
from app.team.blueprint import bp
from app.timeutil import utcnow


def _refusal(refused: Exception) -> str:
    """What the page says when the organisation's rules refuse a change."""
    if isinstance(refused, members.LastOwner):
        return _("An organisation always keeps an owner: make another member an owner first, or close the "
                 "organisation.")
    if isinstance(refused, members.NotAllowed):
        return _("Only an owner can give or take the owner role, or remove an owner.")
    return _("Nobody leaves their personal organisation; it is closed with the account.")


def _render_team(invite_form=None, status=200):
    working, now = current_membership(), utcnow()
    return render_template(
        "team/members.html", working=working, members=members.members(working.organisation_id),
        invitations=members.pending_invitations(working.organisation_id, now) if working.may(
            Permission.MANAGE_MEMBERS) else [],
        invite_form=invite_form or InviteForm(formdata=None), role_form=RoleForm(formdata=None),
        may_manage=working.may(Permission.MANAGE_MEMBERS)), status


@bp.get("/account/team")
@member(Permission.VIEW)
def show_team():
    """The organisation's members and roles; to owners and admins also its open invitations."""
    return _render_team()


@bp.post("/account/team/invitations")
@member(Permission.MANAGE_MEMBERS)
def invite_member():
    """Invite an e-mail address with a role; the page says the same whether it has an account or not."""
    form = InviteForm()
    if not form.validate():
        return _render_team(form, 400)
    if not current_user.is_verified:
        form.email.errors.append(_("Confirm your e-mail address before inviting people."))
        return _render_team(form, 400)
    try:
        members.invite(current_membership(), form.email.data, form.role.data, current_app.config, utcnow())
    except members.InvalidEmail:
        form.email.errors.append(_("Enter a valid e-mail address, such as name@example.com."))
        return _render_team(form, 400)
    except members.NotAllowed:
        form.role.errors.append(_("Only an owner can invite an owner."))
        return _render_team(form, 400)
    except members.TooManyInvitations:
        form.email.errors.append(_("This organisation sent many invitations lately or has many open: wait an hour, "
                                   "or withdraw open ones."))
        return _render_team(form, 429)
    except members.OrganisationError:
        form.email.errors.append(_("Your personal organisation is yours alone: create a team organisation to "
                                   "invite people."))
        return _render_team(form, 400)
    flash(_("Invitation sent to %(email)s. The link works for %(days)s days, once, for that address only.",
            email=form.email.data, days=current_app.config["INVITATION_DAYS"]), "success")
    return redirect(url_for("team.show_team"), code=303)


@bp.post("/account/team/invitations/<int:invitation_id>/revoke")
@member(Permission.MANAGE_MEMBERS)
def revoke_invitation(invitation_id: int):
    """Withdraw an invitation that was not accepted yet: its link stops working."""
    withdrawn = members.revoke_invitation(current_membership().organisation_id, invitation_id, utcnow(),
                                          current_user)
    if withdrawn is None:
        abort(404)
    flash(_("The invitation to %(email)s is withdrawn.", email=withdrawn.email), "success")
    return redirect(url_for("team.show_team"), code=303)


def _target(membership_id: int):
    found = members.member_of(current_membership().organisation_id, membership_id)
    if found is None:
        abort(404)
    return found


@bp.post("/account/team/members/<int:membership_id>/role")
@member(Permission.MANAGE_MEMBERS)
def change_role(membership_id: int):
    """Give a member another role; effective on their next request."""
    target, form = _target(membership_id), RoleForm()
    if not form.validate():
        flash(_("Choose one of the roles."), "error")
        return redirect(url_for("team.show_team"), code=303)
    try:
        members.change_role(current_membership(), target, form.role.data, current_app.config, utcnow())
    except members.OrganisationError as refused:
        flash(_refusal(refused), "error")
        return redirect(url_for("team.show_team"), code=303)
    flash(_("%(name)s is now %(role)s.", name=target.user.display_name,
            role=access.label("member_role", target.role)), "success")
    return redirect(url_for("team.show_team"), code=303)


@bp.route("/account/team/members/<int:membership_id>/remove", methods=["GET", "POST"])
@member(Permission.MANAGE_MEMBERS)
def remove_member(membership_id: int):
    """Remove a member after a confirmation page listing the keys they made: those not chosen to
    keep working for the organisation are revoked."""
    target = _target(membership_id)
    now = utcnow()
    made = [k for k in key_services.made_by(current_membership().organisation, target.user_id) if k.usable(now)]
    form = RemoveMemberForm() if request.method == "POST" else RemoveMemberForm(formdata=None)
    form.keep.choices = [(k.id, f"{k.name} ({k.prefix}…)") for k in made]
    if request.method == "GET" or not form.validate():
        return render_template("team/remove.html", target=target, keys=made, form=form), \
            400 if form.errors else 200
    name = target.user.display_name
    try:
        removed = members.remove(current_membership(), target, current_app.config, now)
    except members.OrganisationError as refused:
        flash(_refusal(refused), "error")
        return redirect(url_for("team.show_team"), code=303)
    revoked = key_services.revoke_made_by(current_membership().organisation, removed, set(form.keep.data or []), now,
                                          current_user)
    flash(_("%(name)s is no longer a member; %(count)s of their keys revoked.", name=name, count=revoked), "success")
    return redirect(url_for("team.show_team"), code=303)


@bp.post("/account/team/leave")
@member(Permission.VIEW)
def leave_organisation():
    """Leave the organisation worked in (the last owner cannot); the keys one made are revoked."""
    working, now = current_membership(), utcnow()
    organisation = working.organisation
    try:
        members.remove(working, working, current_app.config, now)
    except members.OrganisationError as refused:
        flash(_refusal(refused), "error")
        return redirect(url_for("team.show_team"), code=303)
    key_services.revoke_made_by(organisation, current_user.id, set(), now, current_user)
    flash(_("You left %(name)s.", name=organisation.display_name), "success")
    return redirect(url_for("organisations.list_organisations"), code=303)


@bp.get("/invitations/<token>")
@public
def show_invitation(token: str):
    """An invitation link: who invites to what, and how to accept (signed in with the invited address)."""
    try:
        invitation = members.read_invitation(token, current_app.config, utcnow())
    except members.InvitationUnusable:
        return render_template("team/invitation.html", invitation=None, token=token), 404
    return render_template("team/invitation.html", invitation=invitation, token=token,
                           matches=current_user.is_authenticated and current_user.email == invitation.email)


@bp.post("/invitations/<token>")
@customer
def accept_invitation(token: str):
    """Join the organisation as the signed-in account, whose address must be the invited one."""
    try:
        joined = members.accept(token, current_user, current_app.config, utcnow())
    except members.InvitationUnusable:
        return render_template("team/invitation.html", invitation=None, token=token), 404
    except members.WrongAddress:
        flash(_("This invitation is for another e-mail address (or yours is not confirmed yet). Sign in with the "
                "invited address to accept it."), "error")
        return redirect(url_for("team.show_invitation", token=token), code=303)
    access.choose(joined.organisation_id)
    flash(_("Welcome to %(name)s. You work in it now.", name=joined.organisation.display_name), "success")
    return redirect(url_for("account.show_dashboard"), code=303)
