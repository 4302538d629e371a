"""Consent receipts in the ISO/IEC TS 27560 shape (W3C DPV profile): every way of deciding gives
a receipt that validates against the schema shipped in docs/, from /cookies/receipt.json and
from the data export, and the schema is strict enough to refuse a receipt missing a part."""

import io
import json
import zipfile
from pathlib import Path

import jsonschema
import pytest
from sqlalchemy import select

from app.auth.models import User
from app.extensions import db as _db
from app.rights import export
from app.timeutil import utcnow
from tests.consent.test_routes import decide
from tests.fixtures.visitor import AuthActions

SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "docs/consent-receipt.schema.json").read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.FormatChecker())


def receipt_of(client) -> dict:
    response = client.get("/cookies/receipt.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    return json.loads(response.get_data(as_text=True))


@pytest.mark.parametrize(("action", "categories", "state"), [
    ("accept_all", (), "dpv:ConsentGiven"),
    ("save", ("analytics",), "dpv:ConsentGiven"),
    ("save", (), "dpv:ConsentRefused"),
    ("reject_all", (), "dpv:ConsentRefused"),
])
def test_every_decision_gives_a_receipt_that_validates(client, app, action, categories, state):
    decide(client, action, categories)
    receipt = receipt_of(client)
    VALIDATOR.validate(receipt)
    assert receipt["state"] == state
    assert receipt["controller"]["contact"] == app.config["SUPPORT_EMAIL"]
    assert receipt["notice"]["url"].endswith(f"/cookies/policy/{app.config['COOKIE_POLICY_VERSION']}")
    analytics = next(p for p in receipt["purposes"] if p["purposeId"] == "analytics")
    assert analytics["consentState"] == state and analytics["legalBasis"] == "eu-gdpr:A6-1-a"
    assert analytics["cookies"] == ["twa_id"]


def test_a_withdrawal_and_a_gpc_signal_give_receipts_that_validate(client):
    decide(client, "accept_all")
    decide(client, "withdraw")
    withdrawn = receipt_of(client)
    VALIDATOR.validate(withdrawn)
    assert withdrawn["state"] == "dpv:ConsentWithdrawn" and withdrawn["event"]["type"] == "dpv:WithdrawnConsent"
    decide(client, "accept_all", headers={"Sec-GPC": "1"})  # the signal decides: analytics refused
    refused = receipt_of(client)
    VALIDATOR.validate(refused)
    assert refused["event"]["method"] == "gpc" and refused["state"] == "dpv:ConsentRefused"


def test_the_export_carries_every_receipt_of_the_account_and_each_validates(client, app, outbox):
    auth = AuthActions(client, outbox)
    auth.register()
    auth.login()
    decide(client, "accept_all")
    decide(client, "reject_all")
    with app.app_context():
        user = _db.session.scalar(select(User))
        archive = b"".join(export.export_zip(user, app.config, "en", utcnow()))
    receipts = json.loads(zipfile.ZipFile(io.BytesIO(archive)).read("consent_receipts.json"))
    assert [r["event"]["method"] for r in receipts] == ["accept_all", "reject_all"]
    for receipt in receipts:
        VALIDATOR.validate(receipt)
        assert receipt["piiPrincipal"]["linkedToAccount"] is True


def test_the_schema_refuses_a_receipt_missing_a_part_or_with_a_wrong_state(client):
    decide(client, "accept_all")
    receipt = receipt_of(client)
    for broken in ({k: v for k, v in receipt.items() if k != "controller"},
                   {**receipt, "state": "given"},
                   {**receipt, "validity": {"from": "yesterday", "until": "tomorrow", "duration": "P1D"}}):
        assert list(VALIDATOR.iter_errors(broken))
