"""The account pages, one module per job: the overview and profile (``profile.py``), the security
page, sessions and the authenticator app (``security.py``), passkeys (``passkeys.py``), the mail
choices and the one-click unsubscribe link (``notifications.py``)."""

from app.account.blueprint import bp
from app.account.routes import notifications, passkeys, profile, security  # noqa: F401

__all__ = ["bp"]
