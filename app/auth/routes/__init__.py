"""Auth's views, one module per job: registration, verification and password reset
(``accounts.py``); signing in and out and confirming it is you (``signin.py``); the same with a
passkey (``passkeys.py``)."""

from app.auth.blueprint import bp, init_app
from app.auth.routes import accounts, passkeys, signin  # noqa: F401

__all__ = ["bp", "init_app"]
