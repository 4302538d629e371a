"""Consent receipts in the ISO/IEC TS 27560 shape (W3C DPV profile): every way of deciding gives
a receipt that validates against the schema shipped in docs/, from /cookies/receipt.json and
from the data export, and the schema is strict enough to refuse a receipt missing a part. As
JSON-LD (PyLD, offline: no document is loaded from the network) a receipt keeps every field and
expands to the DPV-27560 graph, and every DPV term in it is a term of DPV 2.2 (the vendored list
in tests/fixtures/dpv-2.2-terms.txt)."""

import io
import json
import re
import uuid
import zipfile
from pathlib import Path

import jsonschema
import pytest
from pyld import jsonld
from sqlalchemy import select

from app.auth.models import User
from app.extensions import db as _db
from app.rights import export
from app.timeutil import utcnow
from tests.consent.test_routes import decide
from tests.fixtures.visitor import AuthActions

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "docs/consent-receipt.schema.json").read_text())
TERMS = frozenset(line for line in (ROOT / "tests/fixtures/dpv-2.2-terms.txt").read_text().splitlines()
                  if line and not line.startswith("#"))
DPV, DCT, RDF_TYPE = "https://w3id.org/dpv", "http://purl.org/dc/terms/", "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
CURIE = re.compile(r"^(dpv|pd|loc|eu-gdpr|legal-eu|dpv-27560):[\w-]+$")
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
    assert withdrawn["state"] == "dpv:ConsentWithdrawn" and withdrawn["event"]["type"] == "dpv:ConsentWithdrawn"
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
                   {**receipt, "validity": {"from": "yesterday", "until": "tomorrow", "duration": "P1D"}},
                   {k: v for k, v in receipt.items() if k != "receipt"},
                   {**receipt, "event": {**receipt["event"], "type": "dpv:GivenConsent"}},
                   {**receipt, "purposes": [{**p, "consentState": None} for p in receipt["purposes"]]},
                   {**receipt, "purposes": [{k: v for k, v in p.items() if k != "storageLocations"}
                                            for p in receipt["purposes"]]}):
        assert list(VALIDATOR.iter_errors(broken))


def _offline(url, options=None):
    raise jsonld.JsonLdError(f"no network in tests: {url}", "jsonld.LoadDocumentError", code="loading document failed")


OFFLINE = {"documentLoader": _offline}


def _leaves(value) -> int:
    """Scalar values of a compact receipt (null is no value in JSON-LD)."""
    if isinstance(value, dict):
        return sum(_leaves(v) for k, v in value.items() if k != "@context")
    if isinstance(value, list):
        return sum(_leaves(v) for v in value)
    return 0 if value is None else 1


def _expanded_leaves(value) -> int:
    """The same count in expanded JSON-LD: values, node ids and types, through @reverse."""
    if isinstance(value, list):
        return sum(_expanded_leaves(v) for v in value)
    if "@value" in value:
        return 1
    count = ("@id" in value) + len(value.get("@type", []))
    for key, item in value.items():
        if key == "@reverse":
            count += sum(_expanded_leaves(v) for v in item.values())
        elif not key.startswith("@"):
            count += _expanded_leaves(item)
    return count


def _graph(receipt) -> list[tuple[str, str, str]]:
    quads = jsonld.to_rdf(receipt, OFFLINE)["@default"]
    return [(q["subject"]["value"], q["predicate"]["value"], q["object"]["value"]) for q in quads]


@pytest.mark.parametrize(("action", "categories"), [("accept_all", ()), ("save", ()), ("withdraw", ())])
def test_the_receipt_is_json_ld_that_keeps_every_field(client, action, categories):
    decide(client, "accept_all")
    decide(client, action, categories)
    receipt = receipt_of(client)
    expanded = jsonld.expand(receipt, OFFLINE)
    assert len(expanded) == 1 and _expanded_leaves(expanded) == _leaves(receipt)  # nothing dropped on expansion


def test_the_receipt_expands_to_the_dpv_27560_graph(client, app):
    decide(client, "save", ("analytics",))
    receipt = receipt_of(client)
    graph = _graph(receipt)

    def objects(subject, predicate):
        return [o for s, p, o in graph if s == subject and p == predicate]

    def subjects(predicate, obj):
        return [s for s, p, o in graph if p == predicate and o == obj]

    [record] = subjects(RDF_TYPE, f"{DPV}#ConsentRecord")
    [issued] = subjects(RDF_TYPE, f"{DPV}#ConsentReceipt")
    assert objects(issued, f"{DPV}#hasRecordOfActivity") == [record]
    assert objects(issued, f"{DCT}conformsTo") == [f"{DPV}/schema/dpv-27560#receipt"]
    assert objects(issued, f"{DCT}identifier") == [receipt["receipt"]["receiptId"]]
    assert objects(record, f"{DCT}conformsTo") == [f"{DPV}/schema/dpv-27560#record"]
    assert objects(record, f"{DCT}identifier") == [receipt["recordId"]]
    assert objects(record, f"{DPV}#hasJurisdiction") == [f"{DPV}/loc#EU"]
    assert f"{DPV}/legal/eu#law-GDPR" in objects(record, f"{DPV}#hasApplicableLaw")
    [controller] = objects(record, f"{DPV}#hasDataController")
    assert objects(controller, f"{DPV}#hasContact") == [app.config["SUPPORT_EMAIL"]]
    [analytics] = [p for p in objects(record, f"{DPV}#hasProcess") if objects(p, f"{DCT}identifier") == ["analytics"]]
    assert objects(analytics, f"{DPV}#hasPurpose") == [f"{DPV}#ServiceOptimisation"]
    assert objects(analytics, f"{DPV}#hasLegalBasis") == [f"{DPV}/legal/eu/gdpr#A6-1-a"]
    assert f"{DPV}/pd#BrowsingBehaviour" in objects(analytics, f"{DPV}#hasPersonalData")
    assert objects(analytics, f"{DPV}#hasConsentStatus") == [f"{DPV}#ConsentGiven"]
    storage = objects(analytics, f"{DPV}#hasStorageCondition")
    locations = [s for s in storage if f"{DPV}#StorageLocation" in objects(s, RDF_TYPE)]
    assert {o for s in locations for o in objects(s, f"{DPV}#hasLocation")} == {f"{DPV}#WithinDevice", f"{DPV}/loc#EU"}
    [event] = [o for o in objects(record, f"{DPV}#hasConsentStatus") if objects(o, RDF_TYPE)]
    assert objects(event, RDF_TYPE) == [f"{DPV}#ConsentGiven"]
    assert objects(event, f"{DPV}#isIndicatedAtTime") == [receipt["event"]["time"]]
    [withdrawal] = objects(record, f"{DPV}#hasConsentControl")
    assert objects(withdrawal, RDF_TYPE) == [f"{DPV}#WithdrawConsent"]


@pytest.mark.parametrize(("action", "headers"), [("accept_all", None), ("reject_all", None), ("withdraw", None),
                                                  ("accept_all", {"Sec-GPC": "1"})])
def test_every_dpv_term_of_a_receipt_is_a_dpv_2_2_term(client, action, headers):
    decide(client, "accept_all")
    decide(client, action, headers=headers)
    receipt = receipt_of(client)
    prefixes = receipt["@context"][-1] if isinstance(receipt["@context"], list) else receipt["@context"]

    def curies(value):
        if isinstance(value, dict):
            return [c for k, v in value.items() if k != "@context" for c in curies(v)]
        if isinstance(value, list):
            return [c for v in value for c in curies(v)]
        return [value] if isinstance(value, str) and CURIE.match(value) else []

    named = {c.split(":", 1)[0] and prefixes[c.split(":", 1)[0]] + c.split(":", 1)[1] for c in curies(receipt)}
    graphed = {part for triple in _graph(receipt) for part in triple if part.startswith(DPV)}
    assert named and graphed
    assert named - TERMS == set() and graphed - TERMS == set()


def test_each_receipt_has_its_own_stable_receipt_id(client):
    decide(client, "accept_all")
    first = receipt_of(client)
    assert receipt_of(client)["receipt"]["receiptId"] == first["receipt"]["receiptId"]
    decide(client, "reject_all")
    second = receipt_of(client)
    assert uuid.UUID(second["receipt"]["receiptId"]).version == 5
    assert second["receipt"]["receiptId"] != first["receipt"]["receiptId"]
    assert all(p["storageLocations"] for p in second["purposes"])
