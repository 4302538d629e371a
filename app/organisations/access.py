"""The portal's organisation context: the organisation a signed-in person works in (chosen in the
header menu, remembered in the browser session), and the ``member(permission)`` view decorator
that every page of the organisation's money and keys carries."""

from __future__ import annotations

from functools import wraps

from flask import abort, current_app, g, session
from flask_login import current_user

from app.organisations import services
from app.organisations.models import Membership, Organisation, Permission
from app.security import ACCESS_ATTR
from app.timeutil import utcnow

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
            if not current_membership().may(permission):
                abort(403)
            return view(*args, **kwargs)

        setattr(wrapper, ACCESS_ATTR, "customer")
        wrapper.organisation_permission = permission
        return wrapper

    return decorate


def organisation_context() -> dict:
    """For every template: the organisation worked in and the others the person may switch to."""
    if not current_user.is_authenticated:
        return {}
    return {"current_membership": current_membership,
            "my_memberships": lambda: services.memberships_of(current_user.id),
            "personal_organisation": lambda: services.personal_organisation(current_user.id),
            "sole_owned_teams": lambda: services.sole_owned_teams(current_user.id)}
