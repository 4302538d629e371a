"""The demo accounts ``flask demo-data`` makes for a first run: a customer with credits and a
staff member with every role, both with published passwords. Refused in production."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from app.auth.models import STAFF_ROLES, User
from app.auth.passwords import hash_password
from app.auth.provisioning import create_staff
from app.billing.models import CreditKind
from app.billing.services import add_credits
from app.extensions import db
from app.organisations import services as organisations

DEMO_EMAIL = "demo@twtapi.com"
DEMO_PASSWORD = "sample-customer-2025-twtapi"  # noqa: S105 - printed by `flask demo-data`, development only
DEMO_ADMIN_EMAIL = "admin@twtapi.com"
DEMO_ADMIN_PASSWORD = "sample-staff-2025-twtapi"  # noqa: S105 - printed by `flask demo-data`, development only


class DemoRefused(RuntimeError):
    """Demo accounts have published passwords: production never gets them."""


def refuse_in_production(config) -> None:
    if config.get("ENV_NAME") == "production":
        raise DemoRefused("demo-data is refused in production.")


def ensure_demo_customer(config, now: datetime) -> tuple[User, bool]:
    """The verified demo customer with demo credits, created on first call. Returns (user, created)."""
    refuse_in_production(config)
    user = db.session.scalar(select(User).where(User.email == DEMO_EMAIL))
    if user is not None:
        return user, False
    user = User(
        email=DEMO_EMAIL, password_hash=hash_password(DEMO_PASSWORD), nickname="Demo", locale=None,
        created_at=now, email_verified_at=now, age_confirmed_at=now, password_changed_at=now,
        accepted_privacy_version=config["PRIVACY_POLICY_VERSION"], accepted_terms_version=config["TERMS_VERSION"],
    )
    db.session.add(user)
    db.session.flush()
    organisation = organisations.create_personal(user, now)
    add_credits(organisation, 10_000, CreditKind.ADJUSTMENT, now, reason="demo credits")
    return user, True


def ensure_demo_admin(config, now: datetime) -> tuple[User, bool]:
    """The demo staff member with every role (development only). Returns (user, created)."""
    refuse_in_production(config)
    return create_staff(DEMO_ADMIN_EMAIL, DEMO_ADMIN_PASSWORD, list(STAFF_ROLES), config, now)
