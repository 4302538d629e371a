"""Team views: members, invitations and roles (``members.py``); the team audit log (``log.py``)."""

from app.team.blueprint import bp
from app.team.routes import log, members, settings  # noqa: F401

__all__ = ["bp"]
