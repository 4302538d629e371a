"""The credit ledger."""

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from app.billing import services
from app.billing.models import CreditEntry
from app.extensions import db as _db
from app.metering import services as metering
from app.metering.types import InsufficientCredits
from app.organisations.models import Organisation
from app.timeutil import utcnow
from tests.fixtures.factories import charge_call, make_customer


def test_every_change_is_a_ledger_row_and_balances_match(app, runner):
    org_id, _ = make_customer(app, credits=0)
    with app.app_context():
        organisation = _db.session.get(Organisation, org_id)
        services.add_credits(organisation, 500, "purchase", utcnow())
        services.add_credits(organisation, -100, "adjustment", utcnow(), reason="goodwill reversal")
        charge_call(org_id, 7, "call-1")
        _db.session.commit()
        assert metering.balance(org_id, spendable=False) == 393
        assert organisation.credit_balance == 393
        assert [e.amount for e in services.ledger(org_id)] == [-7, -100, 500]
        assert set(_db.session.scalars(select(CreditEntry.organisation_id))) == {org_id}
    result = runner.invoke(args=["credits", "verify"])
    assert result.exit_code == 0 and "0 mismatches" in result.output


def test_verify_reports_a_balance_that_drifted_from_its_ledger(app, runner):
    org_id, _ = make_customer(app, "drift@example.com", credits=10)
    with app.app_context():
        _db.session.execute(update(Organisation).where(Organisation.id == org_id).values(credit_balance=99))
        _db.session.commit()
    result = runner.invoke(args=["credits", "verify"])
    assert result.exit_code == 1
    assert f"organisation {org_id} drift@example.com: balance 99, ledger 10" in result.output


def test_a_call_is_never_charged_twice(app):
    org_id, _ = make_customer(app, credits=10)
    with app.app_context():
        charge_call(org_id, 1, "same-call")
        _db.session.commit()
        with pytest.raises(IntegrityError):  # the unique call id refuses the second charge
            charge_call(org_id, 1, "same-call")
            _db.session.commit()
        _db.session.rollback()
        assert metering.balance(org_id, spendable=False) == 9


def test_never_below_zero(app):
    org_id, _ = make_customer(app, credits=3)
    with app.app_context():
        with pytest.raises(InsufficientCredits) as info:
            charge_call(org_id, 5, "c")
        assert info.value.balance == 3
        organisation = _db.session.get(Organisation, org_id)
        with pytest.raises(services.InsufficientCredits):
            services.add_credits(organisation, -4, "adjustment", utcnow())
        assert _db.session.scalar(select(Organisation.credit_balance).where(Organisation.id == org_id)) == 3
