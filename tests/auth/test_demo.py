"""The demo accounts: made for a first run, never in production, whoever asks for them."""

import pytest
from sqlalchemy import func, select

from app.auth import demo
from app.auth.models import User
from app.extensions import db as _db
from app.timeutil import utcnow
from tests.fixtures.factories import org_of


def test_demo_accounts_are_refused_in_production_by_the_service_itself(app):
    production = {**app.config, "ENV_NAME": "production"}
    with app.app_context():
        for make in (demo.ensure_demo_customer, demo.ensure_demo_admin):
            with pytest.raises(demo.DemoRefused):
                make(production, utcnow())
        assert _db.session.scalar(select(func.count()).select_from(User)) == 0


def test_demo_customer_is_made_once_with_its_credits(app):
    with app.app_context():
        first, created = demo.ensure_demo_customer(app.config, utcnow())
        _db.session.commit()
        again, created_again = demo.ensure_demo_customer(app.config, utcnow())
        assert (created, created_again, again.id) == (True, False, first.id)
        assert org_of(again).credit_balance == 10_000 and again.is_verified
