"""The record of processing activities (GDPR Art. 30(1)), declared here beside the retention
registry and generated from both: each activity names its purpose, legal basis, the people and
data concerned, recipients, transfers abroad, security measures and the tables that hold its
data; the retention of those tables comes from their rules (``app.retention``).

Every table holding personal data (a column tagged ``PERSONAL``, or a link to an account) must
belong to an activity: ``uncovered_tables`` names the ones that do not, and a test keeps it
empty. ``flask privacy ropa`` writes the record as Markdown or CSV; staff download it.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from sqlalchemy import MetaData

from app.retention import RULES, rule_days

CUSTOMERS, STAFF, VISITORS = "customers", "staff members", "visitors and people who write to us"
HOSTING = "our cloud and infrastructure providers (processors, under a data processing agreement)"
STRIPE = "Stripe, Inc. (payment processor; card data goes to Stripe only, never to us)"
AUTHORITIES = "courts and authorities, only where the law requires it"
COMMON_SECURITY = ("TLS everywhere (HSTS); access only for staff roles that need it, with two-factor "
                   "authentication and a reason written to a hash-chained audit log; customers see each "
                   "staff access; backups encrypted")


@dataclass(frozen=True)
class Activity:
    name: str
    purpose: str
    legal_basis: str
    subjects: str
    data: str
    tables: tuple[str, ...]
    recipients: str = HOSTING
    transfers: str = "none outside the EEA (for customers in China: to where the service runs, on their separate "\
        "consent, PIPL Art. 39)"
    security: str = ""


ACTIVITIES: tuple[Activity, ...] = (
    Activity(
        "Customer accounts and sign-in",
        "Provide the account, authenticate its owner and protect it (sessions, second factors, security activity, "
        "e-mailed links).",
        "contract (Art. 6(1)(b)); security of the account: legitimate interest (Art. 6(1)(f))",
        f"{CUSTOMERS}; {STAFF}",
        "e-mail address, nickname, language, password hash (argon2), encrypted TOTP secret, hashed recovery codes, "
        "passkey public keys and names, session and security-event IP addresses and browser descriptions",
        ("users", "user_sessions", "account_tokens", "security_events", "recovery_codes", "passkeys"),
        security="passwords hashed with argon2; TOTP secrets encrypted at rest; only hashes of session ids, tokens "
                 "and recovery codes stored; IP addresses cut to their network after days",
    ),
    Activity(
        "Organisations and their members",
        "Let customers work as teams: an organisation owns credits, keys, usage, orders and invoices; its members "
        "hold roles that say what each may do.",
        "contract (Art. 6(1)(b))",
        CUSTOMERS,
        "organisation names, who is a member of which organisation, with their role and since when, "
        "invitations (the invited address), the team audit log (who did what in the organisation)",
        ("organisations", "memberships", "invitations", "team_events"),
        security="each page and action checks the member's role in one permission table; a removed member's access "
                 "ends on their next request",
    ),
    Activity(
        "API access, metering and usage",
        "Issue API keys, authenticate and meter calls, enforce quotas, caps and rate limits, show usage.",
        "contract (Art. 6(1)(b)); fraud prevention: legitimate interest (Art. 6(1)(f))",
        CUSTOMERS,
        "API key names and prefixes (keys stored as hashes), allow-listed addresses, call records with the calling "
        "IP address, daily usage totals",
        ("api_keys", "api_calls", "usage_daily"),
        security="keys stored as SHA-256 hashes; call IP addresses cut to their network after days; raw calls "
                 "deleted after the call-log period, daily totals kept without IP addresses",
    ),
    Activity(
        "Payments, invoices and credits",
        "Sell credits, take payment, issue invoices and credit notes, refund, keep the credit ledger, warn of low "
        "credit.",
        "contract (Art. 6(1)(b)); invoices and the ledger kept for tax law: legal obligation (Art. 6(1)(c))",
        CUSTOMERS,
        "orders and amounts, billing name, address, country and tax id, invoices, refunds, disputes (chargebacks), "
        "credit ledger, alert thresholds and the addresses alerts go to",
        ("orders", "invoices", "refunds", "disputes", "billing_details", "credit_ledger", "alert_recipients"),
        recipients=f"{STRIPE}; {HOSTING}; tax authorities on audit",
        transfers="United States (Stripe, Inc.): EU Standard Contractual Clauses and the EU-US Data Privacy "
                  "Framework, under Stripe's data processing agreement",
        security="no card data ever reaches us (Stripe Checkout); webhooks verified by signature",
    ),
    Activity(
        "Support and contact",
        "Answer questions, complaints and support requests, by the contact form and e-mail.",
        "contract (Art. 6(1)(b)) for customers; legitimate interest in answering (Art. 6(1)(f)) for others",
        f"{CUSTOMERS}; {VISITORS}",
        "name, e-mail address, the messages and replies, the sender's IP address (cut after days)",
        ("contact_threads", "contact_messages"),
    ),
    Activity(
        "Service e-mail",
        "Send the e-mail the service needs (verification, resets, receipts, notices) through an outbox, and only "
        "the optional mail each person still wants.",
        "contract (Art. 6(1)(b)); legal obligation for policy notices (Art. 6(1)(c)); optional notices: legitimate "
        "interest (Art. 6(1)(f)) with a one-click objection (RFC 8058)",
        f"{CUSTOMERS}; {VISITORS}",
        "recipient address, subject and body until delivered (bodies wiped at delivery); each person's choice per "
        "optional mail category, with when and how it was made",
        ("outbox_messages", "mail_preferences"),
        recipients=f"our mail relay (processor); {HOSTING}",
    ),
    Activity(
        "Privacy rights and legal holds",
        "Receive, verify and fulfil data-subject requests within their deadlines; keep legal holds.",
        "legal obligation (Art. 6(1)(c), Art. 12-22)",
        f"{CUSTOMERS}; {VISITORS}",
        "requester's e-mail address, the request and its history, staff notes, hold reasons; for requests "
        "authorized agents file (Data Rights Protocol): the agent, its technical contact and the request's status",
        ("rights_requests", "rights_request_events", "legal_holds", "drp_agents", "drp_requests"),
        recipients=f"{HOSTING}; {AUTHORITIES}",
    ),
    Activity(
        "Consent records and policy notices",
        "Record each cookie decision and each separate consent (PIPL: transfer abroad, a guardian's) as proof; "
        "tell users of significant policy changes.",
        "legal obligation (GDPR Art. 7(1) proof of consent; ePrivacy; PIPL Art. 14, 31, 39)",
        f"{CUSTOMERS}; {VISITORS}",
        "consent id, categories allowed, policy version and language (no IP address, no browser details); the "
        "kind, time, language and a hash of the notice of each separate consent; which notices a user saw",
        ("consent_records", "separate_consents", "policy_notices"),
    ),
    Activity(
        "First-party analytics",
        "Count page views and unique visitors per day to improve the product and documentation.",
        "consent (Art. 6(1)(a)), refused by a Global Privacy Control signal",
        VISITORS,
        "a hash of the analytics cookie keyed with a random salt of the day, deleted when the day is over",
        ("analytics_visitors",),
        security="salted per day and the salt deleted daily: a stored hash cannot be linked to a visitor",
    ),
    Activity(
        "Staff accountability",
        "Keep a tamper-evident record of what staff do with customers' data, show customers each access, manage "
        "staff roles.",
        "legal obligation (Art. 5(2) accountability, Art. 32 security)",
        f"{STAFF}; {CUSTOMERS} (as the subjects of staff actions)",
        "staff e-mail addresses and roles, actions, reasons, targets and IP addresses",
        ("audit_log", "staff_accesses", "user_roles"),
        recipients=f"{HOSTING}; {AUTHORITIES}",
        security="audit entries hash-chained (HMAC) and verified daily; the ORM refuses to change them",
    ),
    Activity(
        "Personal-data breach register",
        "Document every personal-data breach, assess it, and notify the supervisory authority and the people "
        "affected in time.",
        "legal obligation (Art. 33 and 34)",
        f"{STAFF} (who recorded it); {CUSTOMERS} (only as counts)",
        "the staff account that recorded each breach; facts, effects and remedies without names of the people "
        "affected",
        ("breaches",),
        recipients=f"{HOSTING}; the supervisory authority",
    ),
)


def personal_tables(metadata: MetaData) -> list[str]:
    """Tables with personal data: a column tagged PERSONAL, or a link to an account."""
    found = []
    for table in metadata.sorted_tables:
        tagged = any(c.info.get("personal") for c in table.columns)
        linked = any(fk.column.table.name == "users" for fk in table.foreign_keys)
        if table.name == "users" or tagged or linked:
            found.append(table.name)
    return found


def uncovered_tables(metadata: MetaData) -> list[str]:
    covered = {table for activity in ACTIVITIES for table in activity.tables}
    return sorted(set(personal_tables(metadata)) - covered)


def _retention(activity: Activity, config) -> str:
    rules = sorted((r for r in RULES if r.table in activity.tables), key=lambda r: (r.table, r.name))
    def said(rule) -> str:
        text = rule.description.rstrip(".")
        return text.replace("N days", f"{rule_days(rule, config)} days") if rule.action != "keep" else text
    return "; ".join(f"{r.table}: {said(r)}" for r in rules) or "with the account (deleted at its erasure)"


FIELDS = ("activity", "purpose", "legal basis", "data subjects", "personal data", "recipients",
          "transfers abroad", "retention", "security measures", "tables")


def rows(config) -> list[dict]:
    security = lambda a: "; ".join(filter(None, [a.security, COMMON_SECURITY]))  # noqa: E731
    return [dict(zip(FIELDS, (a.name, a.purpose, a.legal_basis, a.subjects, a.data, a.recipients, a.transfers,
                              _retention(a, config), security(a), ", ".join(a.tables)), strict=True))
            for a in ACTIVITIES]


def controller(config) -> str:
    address = (config.get("SELLER_ADDRESS") or "").replace("\\n", ", ").replace("\n", ", ")
    return ", ".join(filter(None, [config.get("SELLER_NAME") or config["SITE_NAME"], address,
                                   config.get("PRIVACY_EMAIL") or config["SUPPORT_EMAIL"]]))


def markdown(config) -> str:
    lines = ["# Record of processing activities (GDPR Art. 30(1))", "",
             f"Controller: {controller(config)}.", "",
             "Generated from the code (`app/processing.py` and the retention registry) by "
             "`flask --app wsgi privacy ropa`.", ""]
    for row in rows(config):
        lines += [f"## {row['activity']}", ""]
        lines += [f"- **{field}**: {row[field]}" for field in FIELDS[1:]]
        lines.append("")
    return "\n".join(lines)


def csv_text(config) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(FIELDS))
    writer.writeheader()
    writer.writerows(rows(config))
    return out.getvalue()
