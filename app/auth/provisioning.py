"""Accounts made by operators rather than by sign-up: staff members with their roles (the demo
accounts are in ``app.auth.demo``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from app.addresses import normalise_email
from app.audit import services as audit
from app.audit.models import AuditAction
from app.auth.models import STAFF_ROLES, User, UserRole
from app.auth.passwords import hash_password
from app.extensions import db


class UnknownRole(ValueError):
    """A role name outside STAFF_ROLES."""


def create_staff(email: str, password: str | None, roles: list[str], config, now: datetime) -> tuple[User, bool]:
    """Give ``roles`` to the account of ``email``, creating a verified account when there is none.

    Returns (user, created). The password is used only for a new account. The grant is written
    to the audit log (by "system": this runs from the command line).
    """
    unknown = sorted(set(roles) - set(STAFF_ROLES))
    if unknown or not roles:
        raise UnknownRole(", ".join(unknown) or "no role given")
    normalised = normalise_email(email)
    user = db.session.scalar(select(User).where(User.email == normalised))
    created = user is None
    if created:
        user = User(email=normalised, password_hash=hash_password(password), created_at=now, email_verified_at=now,
                    age_confirmed_at=now, password_changed_at=now,
                    accepted_privacy_version=config["PRIVACY_POLICY_VERSION"],
                    accepted_terms_version=config["TERMS_VERSION"])
        db.session.add(user)
        db.session.flush()
    for role in sorted(set(roles) - user.role_names):
        user.roles.append(UserRole(user_id=user.id, role=role, granted_at=now))
        audit.record(None, AuditAction.STAFF_ROLE_GRANT, now, target_user=user, reason=role)
    db.session.flush()
    return user, created
