"""The credit ledger."""

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from app.auth.models import User
from app.billing import services
from app.extensions import db as _db
from app.metering import services as metering
from app.metering.types import InsufficientCredits
from app.timeutil import utcnow
from tests.fixtures.factories import charge_call, make_customer


def test_every_change_is_a_ledger_row_and_balances_match(app, runner):
    user_id, _ = make_customer(app, credits=0)
    with app.app_context():
        user = _db.session.get(User, user_id)
        services.add_credits(user, 500, "purchase", utcnow())
        services.add_credits(user, -100, "adjustment", utcnow(), reason="goodwill reversal")
        charge_call(user_id, 7, "call-1")
        _db.session.commit()
        assert metering.balance(user_id, spendable=False) == 393
        assert [e.amount for e in services.ledger(user_id)] == [-7, -100, 500]
    result = runner.invoke(args=["credits", "verify"])
    assert result.exit_code == 0 and "0 mismatches" in result.output


def test_verify_reports_a_balance_that_drifted_from_its_ledger(app, runner):
    user_id, _ = make_customer(app, credits=10)
    with app.app_context():
        _db.session.execute(update(User).where(User.id == user_id).values(credit_balance=99))
        _db.session.commit()
    result = runner.invoke(args=["credits", "verify"])
    assert result.exit_code == 1
    assert "balance 99, ledger 10" in result.output


def test_a_call_is_never_charged_twice(app):
    user_id, _ = make_customer(app, credits=10)
    with app.app_context():
        charge_call(user_id, 1, "same-call")
        _db.session.commit()
        with pytest.raises(IntegrityError):  # the unique call id refuses the second charge
            charge_call(user_id, 1, "same-call")
            _db.session.commit()
        _db.session.rollback()
        assert metering.balance(user_id, spendable=False) == 9


def test_never_below_zero(app):
    user_id, _ = make_customer(app, credits=3)
    with app.app_context():
        with pytest.raises(InsufficientCredits) as info:
            charge_call(user_id, 5, "c")
        assert info.value.balance == 3
        user = _db.session.get(User, user_id)
        with pytest.raises(services.InsufficientCredits):
            services.add_credits(user, -4, "adjustment", utcnow())
        assert _db.session.scalar(select(User.credit_balance).where(User.id == user_id)) == 3
