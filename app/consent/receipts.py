"""Consent receipts in the ISO/IEC TS 27560 information structure, as the W3C Data Privacy
Vocabulary (DPV 2.2) implements it (https://w3id.org/dpv/guides/consent-27560): a consent record
(``dpv:ConsentRecord``, conforming to the DPV-27560 record schema) with the record's id, the data
subject, the controller, the notice shown, each purpose as a ``dpv:Process`` (purposes, legal
basis, personal data, consent state, storage location and duration, recipients), jurisdiction and
applicable law, how to withdraw, and the consent event with its state and validity; and the
receipt header (``dpv:ConsentReceipt``: its own id, schema and creation time), linked to the record
by ``dpv:hasRecordOfActivity``.

A receipt is JSON-LD 1.1: the context in ``receipt-context.jsonld`` (inlined, so no processor
needs the network) maps every field to its DPV or Dublin Core term, and the terms used are all in
DPV 2.2 (checked against a vendored term list in the tests). Our few fields with no DPV term use
the ``twt:`` namespace. ``/cookies/receipt.json`` serves one; the data export carries every one of
an account's. The JSON shape is fixed by ``docs/consent-receipt.schema.json``.
"""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from pathlib import Path

from app.consent import registry
from app.consent.models import ConsentMethod, ConsentRecord
from app.consent.registry import ConsentCategory

CONTEXT = json.loads((Path(__file__).with_name("receipt-context.jsonld")).read_text(encoding="utf-8"))["@context"]
RECORD_SCHEMA = "https://w3id.org/dpv/schema/dpv-27560#record"
RECEIPT_SCHEMA = "https://w3id.org/dpv/schema/dpv-27560#receipt"
# Receipt ids are name-based UUIDs (version 5) of the record, so one record always has one receipt id.
RECEIPT_NAMESPACE = uuid.UUID("0f6b7f4e-2b1c-5d8e-9a3f-6c1d2e4b7a90")
# What each way of deciding records: the DPV consent status of the event, and what the person did.
EVENTS = {
    ConsentMethod.ACCEPT_ALL: ("dpv:ConsentGiven", "accepted every optional category"),
    ConsentMethod.SAVE: ("dpv:ConsentGiven", "saved a choice per category"),
    ConsentMethod.REJECT_ALL: ("dpv:ConsentRefused", "refused every optional category"),
    ConsentMethod.WITHDRAW: ("dpv:ConsentWithdrawn", "withdrew consent in one click"),
    ConsentMethod.GPC: ("dpv:ConsentRefused", "the browser's Global Privacy Control signal refused analytics"),
}
PURPOSES = {
    ConsentCategory.NECESSARY: {
        "purposeCategory": ["dpv:ServiceProvision", "dpv:EnforceSecurity"],
        "legalBasis": "eu-gdpr:A6-1-b",
        "legalBasisNote": "strictly necessary: no consent needed (ePrivacy Art. 5(3)), so no consent state",
        "personalData": ["pd:Identifier", "pd:Language"],
    },
    ConsentCategory.ANALYTICS: {
        "purposeCategory": ["dpv:ServiceOptimisation"],
        "legalBasis": "eu-gdpr:A6-1-a", "legalBasisNote": "consent",
        "personalData": ["pd:Identifier", "pd:BrowsingBehaviour"],
    },
}
GDPR = "legal-eu:law-GDPR"
EPRIVACY = "http://data.europa.eu/eli/dir/2002/58/oj"  # no DPV 2.2 term: its ELI identifier
JURISDICTION = "loc:EU"


def _iso(moment) -> str:
    return moment.replace(microsecond=0).isoformat() + "Z"


def _state(record: ConsentRecord, category: str) -> str | None:
    if category == ConsentCategory.NECESSARY:
        return None  # consent is not the legal basis: DPV has no status for it, so none is claimed
    if category in record.category_set:
        return "dpv:ConsentGiven"
    return "dpv:ConsentWithdrawn" if record.method == ConsentMethod.WITHDRAW else "dpv:ConsentRefused"


def receipt_id(record: ConsentRecord) -> str:
    """The receipt's own id (ISO/IEC TS 27560 receipt_id): a UUID that names this record."""
    return str(uuid.uuid5(RECEIPT_NAMESPACE, f"{record.consent_id}:{record.id}"))


def _storage(config) -> list[dict]:
    return [
        {"@type": "dpv:StorageLocation", "location": "dpv:WithinDevice",
         "description": "the cookies are kept in the visitor's browser"},
        {"@type": "dpv:StorageLocation", "location": JURISDICTION,
         "description": f"what they carry is kept on our servers in {config['DATA_LOCATION']}"},
    ]


def receipt(record: ConsentRecord, config) -> dict:
    """One decision as an ISO/IEC TS 27560 consent receipt (DPV-27560, JSON-LD)."""
    site = config["SITE_URL"]
    refused = not (record.category_set - {ConsentCategory.NECESSARY})
    valid_days = config["CONSENT_REJECT_MAX_AGE_DAYS" if refused else "CONSENT_MAX_AGE_DAYS"]
    event_type, event_text = EVENTS.get(record.method, ("dpv:ConsentGiven", record.method))
    purposes = []
    for category in registry.CATEGORIES:
        cookies = [c for c in registry.COOKIES if c.category == category.name]
        purposes.append({
            "@type": "dpv:Process",
            "purpose": str(category.description), "purposeId": category.name,
            **PURPOSES[category.name],
            "consentState": _state(record, category.name),
            "cookies": [c.shown_name(config) for c in cookies],
            "retention": {"@type": "dpv:StorageDuration",
                          "cookies": [f"{c.shown_name(config)}: {c.lifetime_text(config)}" for c in cookies]},
            "storageLocations": _storage(config),
            "recipients": ["dpv:DataController"],
            "recipientsNote": "the controller only (first party); no third party receives this data",
        })
    return {
        "@context": CONTEXT,
        "@type": "dpv:ConsentRecord",
        "schemaVersion": RECORD_SCHEMA,
        "recordId": f"{record.consent_id}:{record.id}",
        "receipt": {"@type": "dpv:ConsentReceipt", "receiptId": receipt_id(record), "schemaVersion": RECEIPT_SCHEMA,
                    "created": _iso(record.created_at)},
        "consentId": record.consent_id,
        "piiPrincipal": {"@type": "dpv:DataSubject", "id": record.consent_id, "type": "pseudonymous browser identifier",
                         "linkedToAccount": record.user_id is not None},
        "controller": {"@type": "dpv:DataController", "name": config.get("SELLER_NAME") or config["SITE_NAME"],
                       "address": config.get("SELLER_ADDRESS") or None,
                       "contact": config["SUPPORT_EMAIL"], "url": site},
        "notice": {"@type": "dpv:ConsentNotice", "url": f"{site}/cookies/policy/{record.policy_version}",
                   "version": record.policy_version, "language": record.locale,
                   "bannerTextSha256": record.banner_hash},
        "language": record.locale,
        "jurisdiction": [JURISDICTION],
        "applicableLaw": [GDPR, EPRIVACY],
        "purposes": purposes,
        "dataCategories": sorted({d for p in purposes for d in p["personalData"]}),
        "recordRetention": {"@type": "dpv:StorageDuration", "duration": f"P{config['CONSENT_RECORD_DAYS']}D",
                            "note": "this record is kept as proof of the decision, then deleted"},
        "withdrawal": {"@type": "dpv:WithdrawConsent",
                       "method": "one click on the cookie settings page; refused cookies are deleted at once",
                       "url": f"{site}/cookies#settings"},
        "event": {"time": _iso(record.created_at), "type": event_type, "description": event_text,
                  "method": record.method, "indicatedBy": "dpv:DataSubject"},
        "state": "dpv:ConsentRefused" if refused and record.method != ConsentMethod.WITHDRAW
                 else "dpv:ConsentWithdrawn" if refused else "dpv:ConsentGiven",
        "validity": {"@type": "dpv:TemporalDuration", "from": _iso(record.created_at),
                     "until": _iso(record.created_at + timedelta(days=valid_days)),
                     "duration": f"P{valid_days}D"},
        "kept": "no IP address and no browser details are stored with this record",
    }
