"""Route access classes: every view is public, API-key, agent (Data Rights Protocol), customer or
staff (tests/test_access.py checks that each one says which)."""

from __future__ import annotations

from functools import wraps

from flask import abort, current_app
from flask_login import current_user

from app.security.csrf import csrf_exempt

ACCESS_ATTR = "access_class"


def public(view):
    """Mark a view as reachable by anyone (checked by tests/test_access.py)."""
    setattr(view, ACCESS_ATTR, "public")
    return view


def api_key(view):
    """A view authenticated by an API key in the Authorization header (the /api/v1 gateway)."""
    setattr(view, ACCESS_ATTR, "api")
    return view


def agent(view):
    """A view of the Data Rights Protocol, for authorized agents: authenticated by a bearer token
    from pairing, or (pairing itself) by the agent's Ed25519 signature; CSRF does not apply."""
    setattr(view, ACCESS_ATTR, "agent")
    return csrf_exempt(view)


def customer(view):
    """A view for signed-in users: anonymous visitors are sent to the sign-in page."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        if not current_user.is_authenticated:
            return current_app.login_manager.unauthorized()
        return view(*args, **kwargs)

    setattr(wrapper, ACCESS_ATTR, "customer")
    return wrapper


def staff(*roles: str):
    """A staff view; ``roles`` lists who may open it (any staff role when empty).

    The staff blueprint's guard has already required a signed-in staff member with 2FA; this
    adds the role check and marks the view for tests/test_access.py.
    """

    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            if roles and not current_user.has_role(*roles):
                abort(403)
            return view(*args, **kwargs)

        setattr(wrapper, ACCESS_ATTR, "staff")
        wrapper.staff_roles = roles
        return wrapper

    return decorate
