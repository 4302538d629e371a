"""The portal's organisation context: the organisation a signed-in person works in (chosen in the
header menu, remembered in the browser session), and the ``member(permission)`` view decorator
that every page of the organisation's money and keys carries."""

from __future__ import annotations

from functools import wraps

from babel.lists import format_list
from flask import current_app, g, has_request_context, render_template, request, session
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup

from app.labels import label
from app.organisations import services
from app.organisations.models import Membership, Organisation, Permission, Role, may
from app.security import ACCESS_ATTR
from app.timeutil import utcnow

__all__ = ["current_membership", "current_organisation", "choose", "label", "member", "organisation_context"]

SESSION_KEY = "org"  # the chosen organisation's id, in the signed session cookie


def current_membership() -> Membership | None:
    """The signed-in person's membership in the organisation they work in (read once a request:
    a removed member's next request finds none for it)."""
    if not current_user.is_authenticated:
        return None
    if "org_membership" not in g:
        chosen = session.get(SESSION_KEY)
        g.org_membership = services.working_membership(current_user, chosen if isinstance(chosen, int) else None,
                                                      utcnow())
    return g.org_membership


def current_organisation() -> Organisation:
    """The organisation the signed-in person works in (only inside a ``member`` view)."""
    return current_membership().organisation


def choose(organisation_id: int) -> Membership | None:
    """Work in ``organisation_id`` from now on in this browser session, if a member of it."""
    found = services.membership(current_user.id, organisation_id)
    if found is not None:
        session[SESSION_KEY] = found.organisation_id
        g.org_membership = found
    return found


def member(permission: Permission = Permission.VIEW):
    """A customer view of the current organisation: signed in, and a member whose role allows
    ``permission`` (403 otherwise, with the page saying which role does)."""

    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            if not current_user.is_authenticated:
                return current_app.login_manager.unauthorized()
            if request.method in ("GET", "HEAD"):
                _follow_link()
            working = current_membership()
            if not working.may(permission):
                return refused(working, permission)
            if request.method not in ("GET", "HEAD") and _sent_for_another(working):
                return switched(working)
            return view(*args, **kwargs)

        setattr(wrapper, ACCESS_ATTR, "customer")
        wrapper.organisation_permission = permission
        return wrapper

    return decorate


FORM_FIELD = "org"  # the organisation a page's form was made for (``org_field()``), and a link's


def _follow_link() -> None:
    """A link naming an organisation (``?org=<id>``, as the site's mails write them) switches to
    it when the person is a member, so a mail about one organisation's order or key opens it
    whichever organisation they were working in; otherwise the link changes nothing."""
    named = request.args.get(FORM_FIELD, "")
    if named.isdigit() and len(named) < 12 and int(named) != current_membership().organisation_id:
        choose(int(named))


def _sent_for_another(working: Membership) -> bool:
    """Whether a form names an organisation other than the one worked in now (switched in
    another tab since the page was loaded). A form without the field is not checked."""
    sent = request.form.get(FORM_FIELD)
    return sent is not None and sent != str(working.organisation_id)


def org_field() -> Markup:
    """The hidden field every form of an organisation's page carries, so a form sent after the
    person switched organisation in another tab is refused rather than applied to the other one."""
    working = current_membership() if has_request_context() else None
    if working is None:
        return Markup("")
    return Markup('<input type="hidden" name="{}" value="{}">').format(FORM_FIELD, working.organisation_id)


def switched(working: Membership):
    """The 409 page of a form made for another organisation than the one worked in now."""
    explanation = _("This form was made while you worked in another organisation; you now work in "
                    "%(organisation)s. Nothing was changed: go back, reload the page and send it again if it is "
                    "meant for %(organisation)s.", organisation=working.organisation.display_name)
    return render_template("errors/error.html", status=409, title=_("You switched organisation"),
                           explanation=explanation), 409


def refused(working: Membership, permission: Permission):
    """The 403 page of a member whose role does not allow ``permission``: it names their role and
    the roles that do."""
    roles = [label("member_role", role) for role in Role if may(role, permission)]
    explanation = _("Your role in %(organisation)s is %(role)s, which does not allow this. Members with the role "
                    "%(roles)s can do it; an owner or admin can change your role.",
                    organisation=working.organisation.display_name, role=label("member_role", working.role),
                    roles=format_list(roles, style="or", locale=get_locale() or "en"))
    return render_template("errors/error.html", status=403, title=_("Your role does not allow this"),
                           explanation=explanation), 403


def organisation_context() -> dict:
    """For every template: the organisation worked in and the others the person may switch to
    (nothing outside a request, such as an e-mail rendered by a job)."""
    if not has_request_context() or not current_user.is_authenticated:
        return {}
    return {"current_membership": current_membership,
            "my_memberships": lambda: services.memberships_of(current_user.id),
            "personal_organisation": lambda: services.personal_organisation(current_user.id),
            "sole_owned_teams": lambda: services.sole_owned_teams(current_user.id),
            "may": lambda permission: current_membership().may(Permission(permission)),
            "switch_next": lambda: request.full_path.rstrip("?") if request.method == "GET" else ""}
