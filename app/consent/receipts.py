"""Consent receipts in the ISO/IEC TS 27560 information structure, as the W3C Data Privacy
Vocabulary profiles it (https://w3id.org/dpv/schema/dpv-27560): the record's schema version
and id, the controller, the notice shown, the purposes with their categories, the data, the
retention, jurisdiction and recipients, how to withdraw, and the event with its state and
validity. ``/cookies/receipt.json`` serves one; the data export carries every one of an account's.
The shape is fixed by ``docs/consent-receipt.schema.json``; a test validates receipts against it.
"""

from __future__ import annotations

from datetime import timedelta

from app.consent import registry
from app.consent.models import ConsentRecord

SCHEMA_VERSION = "https://w3id.org/dpv/schema/dpv-27560#receipt-full"
CONTEXT = {"dpv": "https://w3id.org/dpv#", "eu-gdpr": "https://w3id.org/dpv/legal/eu/gdpr#",
           "pd": "https://w3id.org/dpv/pd#", "loc": "https://w3id.org/dpv/loc#"}
# What each way of deciding records: the DPV event, and the state it leaves optional categories in.
EVENTS = {
    "accept_all": ("dpv:GivenConsent", "accepted every optional category"),
    "save": ("dpv:GivenConsent", "saved a choice per category"),
    "reject_all": ("dpv:RefusedConsent", "refused every optional category"),
    "withdraw": ("dpv:WithdrawnConsent", "withdrew consent in one click"),
    "gpc": ("dpv:RefusedConsent", "the browser's Global Privacy Control signal refused analytics"),
}
PURPOSES = {
    registry.NECESSARY: {
        "purposeCategory": ["dpv:ServiceProvision", "dpv:MaintainSecurity"],
        "legalBasis": "eu-gdpr:A6-1-b", "legalBasisNote": "strictly necessary: no consent needed (ePrivacy Art. 5(3))",
        "personalData": ["pd:Identifier", "pd:Language"],
    },
    registry.ANALYTICS: {
        "purposeCategory": ["dpv:ServiceOptimisation"],
        "legalBasis": "eu-gdpr:A6-1-a", "legalBasisNote": "consent",
        "personalData": ["pd:Identifier", "pd:BrowsingBehavior"],
    },
}


def _iso(moment) -> str:
    return moment.replace(microsecond=0).isoformat() + "Z"


def _state(record: ConsentRecord, category: str) -> str:
    if category == registry.NECESSARY:
        return "dpv:ConsentNotRequired"
    if category in record.category_set:
        return "dpv:ConsentGiven"
    return "dpv:ConsentWithdrawn" if record.method == "withdraw" else "dpv:ConsentRefused"


def receipt(record: ConsentRecord, config) -> dict:
    """One decision as an ISO/IEC TS 27560 consent receipt (DPV profile)."""
    site = config["SITE_URL"]
    refused = not (record.category_set - {registry.NECESSARY})
    valid_days = config["CONSENT_REJECT_MAX_AGE_DAYS" if refused else "CONSENT_MAX_AGE_DAYS"]
    event_type, event_text = EVENTS.get(record.method, ("dpv:GivenConsent", record.method))
    purposes = []
    for category in registry.CATEGORIES:
        cookies = [c for c in registry.COOKIES if c.category == category.name]
        purposes.append({
            "purpose": str(category.description), "purposeId": category.name,
            **PURPOSES[category.name],
            "consentState": _state(record, category.name),
            "cookies": [c.shown_name(config) for c in cookies],
            "retention": {"cookies": [f"{c.shown_name(config)}: {c.lifetime_text(config)}" for c in cookies]},
            "recipients": ["the controller only (first party); no third party receives this data"],
        })
    return {
        "@context": CONTEXT,
        "@type": "dpv:ConsentRecord",
        "schemaVersion": SCHEMA_VERSION,
        "recordId": f"{record.consent_id}:{record.id}",
        "consentId": record.consent_id,
        "piiPrincipal": {"id": record.consent_id, "type": "pseudonymous browser identifier",
                         "linkedToAccount": record.user_id is not None},
        "controller": {"name": config.get("SELLER_NAME") or config["SITE_NAME"],
                       "address": config.get("SELLER_ADDRESS") or None,
                       "contact": config["SUPPORT_EMAIL"], "url": site},
        "notice": {"url": f"{site}/cookies/policy/{record.policy_version}", "version": record.policy_version,
                   "language": record.locale, "bannerTextSha256": record.banner_hash},
        "language": record.locale,
        "jurisdiction": ["loc:EU"],
        "applicableLaw": ["eu-gdpr:GDPR", "ePrivacy Directive 2002/58/EC, Art. 5(3)"],
        "purposes": purposes,
        "dataCategories": sorted({d for p in purposes for d in p["personalData"]}),
        "recordRetention": {"duration": f"P{config['CONSENT_RECORD_DAYS']}D",
                            "note": "this record is kept as proof of the decision, then deleted"},
        "withdrawal": {"method": "one click on the cookie settings page; refused cookies are deleted at once",
                       "url": f"{site}/cookies#settings"},
        "event": {"time": _iso(record.created_at), "type": event_type, "description": event_text,
                  "method": record.method},
        "state": "dpv:ConsentRefused" if refused and record.method != "withdraw"
                 else "dpv:ConsentWithdrawn" if refused else "dpv:ConsentGiven",
        "validity": {"from": _iso(record.created_at),
                     "until": _iso(record.created_at + timedelta(days=valid_days)),
                     "duration": f"P{valid_days}D"},
        "kept": "no IP address and no browser details are stored with this record",
    }
