"""Organisation views: a person's organisations and switching between them (``organisations.py``);
the team, its invitations and roles (``team.py``)."""

from app.organisations.blueprint import bp, init_app
from app.organisations.routes import organisations, team  # noqa: F401

__all__ = ["bp", "init_app"]
