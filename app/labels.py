"""One translated label for each stored state: pages, mails and the data export all say the same
word for the same state (the export adds the raw code beside it).

``label(kind, value)`` is a template global; an unknown value shows as itself, so a state added
without a label is visible rather than hidden. The tables of stored states are keyed by their
``StrEnum`` members (a member is equal to, and hashes like, its stored string), and a test checks
that every member has a label. ``TEMPLATE_STATES`` puts the enums into the templates, which
compare members (``order.status == OrderStatus.PAID``) rather than spell a state.
"""

from __future__ import annotations

from babel.lists import format_list
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l

from app.audit.models import AccessCategory, AnchorKind, AuditAction
from app.auth.models import SecurityEventTag
from app.billing.models import CreditKind, DisputeStatus, InvoiceKind, OrderStatus, RefundStatus
from app.breaches.models import BreachStage
from app.consent.models import ConsentMethod, SeparateConsentKind
from app.consent.registry import CATEGORIES, ConsentCategory
from app.contact.models import ContactTopic, MessageKind, ThreadStatus
from app.drp.models import DrpStatus
from app.keys.models import KeyState
from app.organisations.models import Role, TeamAction
from app.rights.models import RequestStatus, RequestType

TEMPLATE_STATES = {enum.__name__: enum for enum in (
    AccessCategory, AnchorKind, AuditAction, BreachStage, ConsentCategory, ConsentMethod, ContactTopic, CreditKind,
    DisputeStatus, DrpStatus, InvoiceKind, KeyState, MessageKind, OrderStatus, RefundStatus, RequestStatus,
    RequestType, Role, SecurityEventTag, TeamAction, SeparateConsentKind, ThreadStatus)}

LABELS: dict[str, dict[str, object]] = {
    "order": {
        OrderStatus.PENDING: _l("pending"), OrderStatus.PAID: _l("paid"), OrderStatus.FAILED: _l("payment failed"),
        OrderStatus.EXPIRED: _l("cancelled"), OrderStatus.REFUNDED: _l("refunded"),
        OrderStatus.PARTIALLY_REFUNDED: _l("partly refunded"),
    },
    "thread": {
        ThreadStatus.NEW: _l("received"), ThreadStatus.OPEN: _l("in progress"), ThreadStatus.WAITING: _l("answered"),
        ThreadStatus.CLOSED: _l("closed"),
    },
    "topic": {
        ContactTopic.SALES: _l("Sales and pricing"), ContactTopic.BILLING: _l("Billing and payments"),
        ContactTopic.TECHNICAL: _l("Technical question about the API"), ContactTopic.PRIVACY: _l("Privacy and my data"),
        ContactTopic.COMPLAINT: _l("Complaint"), ContactTopic.OTHER: _l("Something else"),
    },
    "request": {
        RequestStatus.UNCONFIRMED: _l("waiting for confirmation"), RequestStatus.RECEIVED: _l("received"),
        RequestStatus.OPEN: _l("open"), RequestStatus.IN_PROGRESS: _l("in progress"),
        RequestStatus.EXTENDED: _l("extended"), RequestStatus.ON_HOLD: _l("on hold"),
        RequestStatus.COMPLETED: _l("completed"), RequestStatus.REJECTED: _l("rejected"),
        RequestStatus.EXPIRED: _l("expired"), RequestStatus.REVOKED: _l("withdrawn"),
    },
    "request_type": {
        RequestType.ACCESS: _l("A copy of my data (access)"),
        RequestType.RECTIFICATION: _l("Correct my data (rectification)"),
        RequestType.ERASURE: _l("Delete my data (erasure)"),
        RequestType.RESTRICTION: _l("Limit how my data is used (restriction)"),
        RequestType.OBJECTION: _l("Object to a use of my data (objection)"),
        RequestType.WITHDRAW_CONSENT: _l("Withdraw my consent"), RequestType.OTHER: _l("Something else"),
    },
    "security_event": {
        SecurityEventTag.LOGIN_SUCCESS: _l("Signed in"),
        SecurityEventTag.LOGIN_FAILURE: _l("Failed sign-in attempt"),
        SecurityEventTag.LOGOUT: _l("Signed out"),
        SecurityEventTag.PASSWORD_CHANGE: _l("Password changed"),
        SecurityEventTag.PASSWORD_RESET: _l("Password reset by e-mail link"),
        SecurityEventTag.EMAIL_CHANGE: _l("E-mail address changed"),
        SecurityEventTag.TWO_FACTOR_ENABLE: _l("Two-factor authentication turned on"),
        SecurityEventTag.TWO_FACTOR_DISABLE: _l("Two-factor authentication turned off"),
        SecurityEventTag.RECOVERY_CODE_USED: _l("Recovery code used"),
        SecurityEventTag.RECOVERY_CODES_NEW: _l("New recovery codes made"),
        SecurityEventTag.PASSKEY_ADD: _l("Passkey added"),
        SecurityEventTag.PASSKEY_REMOVE: _l("Passkey removed"),
        SecurityEventTag.PASSKEY_CLONED: _l("Passkey refused: a copy of it exists (its counter went backwards)"),
        SecurityEventTag.SESSION_END: _l("Session ended"),
        SecurityEventTag.API_KEY_CREATE: _l("API key created"),
        SecurityEventTag.API_KEY_REVOKE: _l("API key revoked"),
    },
    "audit": {
        AuditAction.STAFF_ROLE_GRANT: _l("Staff role granted"),
        AuditAction.STAFF_TEAM_INVITE: _l("Staff member invited"),
        AuditAction.STAFF_TEAM_ROLES: _l("Staff roles changed"),
        AuditAction.STAFF_USER_VIEW: _l("Customer record opened"),
        AuditAction.STAFF_ORGANISATION_VIEW: _l("Organisation record opened"),
        AuditAction.STAFF_ORGANISATIONS_SEARCH: _l("Organisations searched"),
        AuditAction.STAFF_ORGANISATION_SUSPEND: _l("Organisation suspended"),
        AuditAction.STAFF_ORGANISATION_UNSUSPEND: _l("Organisation suspension lifted"),
        AuditAction.STAFF_USER_SUSPEND: _l("Account suspended"),
        AuditAction.STAFF_USER_UNSUSPEND: _l("Account unsuspended"),
        AuditAction.STAFF_USER_END_SESSIONS: _l("Customer's sessions ended"),
        AuditAction.STAFF_SESSIONS_END_ALL: _l("Every account signed out (emergency)"),
        AuditAction.STAFF_USER_REVOKE_KEY: _l("Customer's key revoked"),
        AuditAction.STAFF_USER_RESEND_VERIFICATION: _l("Confirmation e-mail sent again"),
        AuditAction.PRIVACY_EXPORT: _l("Data export downloaded"),
        AuditAction.PRIVACY_PERSON_LOOKUP: _l("Address looked up"),
        AuditAction.PRIVACY_ACCESS_REVIEW: _l("Unlinked staff access reviewed"),
        AuditAction.PRIVACY_BREACH_RECORD: _l("Breach recorded"),
        AuditAction.PRIVACY_BREACH_UPDATE: _l("Breach details changed"),
        AuditAction.PRIVACY_BREACH_STAGE: _l("Breach stage changed"),
        AuditAction.PRIVACY_BREACH_NOTIFY: _l("Breach notified to the authority"),
        AuditAction.PRIVACY_AGENT_REGISTER: _l("Authorized agent registered"),
        AuditAction.PRIVACY_AGENT_REVOKE: _l("Authorized agent revoked"),
        AuditAction.BILLING_ORDER_VIEW: _l("Order opened"),
        AuditAction.BILLING_ORDER_REFUND: _l("Order refunded"),
        AuditAction.BILLING_ORDERS_EXPORT: _l("Orders exported"),
        AuditAction.BILLING_ORDERS_SEARCH: _l("Orders searched for a customer"),
        AuditAction.BILLING_INVOICE_VIEW: _l("Invoice opened"),
        AuditAction.BILLING_INVOICE_DOWNLOAD: _l("Invoice PDF downloaded"),
        AuditAction.STAFF_USERS_SEARCH: _l("Customer listed in a search"),
        AuditAction.CONTACT_THREADS_SEARCH: _l("Conversations searched for a customer"),
        AuditAction.PRIVACY_AUDIT_READ: _l("Audit log read for a customer"),
        AuditAction.PRIVACY_AUDIT_EXPORT: _l("Audit log exported"),
        AuditAction.BILLING_CREDITS_ADJUST: _l("Credits adjusted"),
        AuditAction.RIGHTS_VIEW: _l("Rights request opened"),
        AuditAction.RIGHTS_ASSIGN: _l("Rights request assigned"),
        AuditAction.RIGHTS_NOTE: _l("Note added to a rights request"),
        AuditAction.RIGHTS_START: _l("Rights request started"),
        AuditAction.RIGHTS_EXTEND: _l("Rights request deadline extended"),
        AuditAction.RIGHTS_COMPLETE: _l("Rights request completed"),
        AuditAction.RIGHTS_REJECT: _l("Rights request rejected"),
        AuditAction.RIGHTS_HOLD: _l("Legal hold placed"),
        AuditAction.RIGHTS_RELEASE: _l("Legal hold released"),
        AuditAction.RIGHTS_MINOR: _l("Account flagged as a minor's"),
        AuditAction.CONTACT_THREAD_VIEW: _l("Conversation opened"),
        AuditAction.CONTACT_THREAD_REPLY: _l("Reply sent"),
        AuditAction.CONTACT_THREAD_NOTE: _l("Internal note added"),
        AuditAction.CONTACT_THREAD_ASSIGN: _l("Conversation assigned"),
        AuditAction.CONTACT_THREAD_CLOSE: _l("Conversation closed"),
        AuditAction.CONTACT_THREAD_REOPEN: _l("Conversation reopened"),
    },
    "payment_method": {
        "card": _l("Card"), "alipay": _l("Alipay"), "wechat_pay": _l("WeChat Pay"), "stripe": _l("Stripe Checkout"),
        "demo": _l("Demo checkout (no real payment)"),
    },
    "key": {
        KeyState.ACTIVE: _l("active"), KeyState.ROTATING: _l("being replaced"), KeyState.REVOKED: _l("revoked"),
        KeyState.EXPIRED: _l("expired"),
    },
    "consent_method": {
        ConsentMethod.ACCEPT_ALL: _l("accepted all"), ConsentMethod.REJECT_ALL: _l("rejected all"),
        ConsentMethod.SAVE: _l("saved a choice"), ConsentMethod.WITHDRAW: _l("withdrew consent"),
        ConsentMethod.GPC: _l("Global Privacy Control signal"),
    },
    "consent_category": {c.name: c.label for c in CATEGORIES},
    "breach_stage": {
        BreachStage.SUSPECTED: _l("suspected"), BreachStage.CONFIRMED: _l("confirmed"),
        BreachStage.CONTAINED: _l("contained"), BreachStage.CLOSED: _l("closed"),
    },
    "breach_scope": {
        "all_accounts": _l("Every account"), "accounts_with_keys": _l("Accounts with an active API key"),
        "paying_customers": _l("Customers who paid"),
        "signed_in_since_aware": _l("Accounts signed in from 72 hours before awareness"),
        "support_senders": _l("People who wrote to support"),
    },
    "separate_consent": {
        SeparateConsentKind.CROSS_BORDER: _l("Transfer of my personal information abroad"),
        SeparateConsentKind.GUARDIAN: _l("A parent's or guardian's consent"),
    },
    "access_category": {
        AccessCategory.SUPPORT: _l("Support you asked for"), AccessCategory.RIGHTS: _l("Your privacy request"),
        AccessCategory.BILLING: _l("Billing and payments"), AccessCategory.FRAUD: _l("Fraud and abuse review"),
        AccessCategory.LEGAL: _l("Legal request"),
        AccessCategory.AUDIT: _l("Review of our staff's actions (audit log)"),
    },
    "role": {
        "support": _l("Support"), "billing": _l("Billing"), "privacy": _l("Privacy"), "admin": _l("Administrator"),
    },
    "member_role": {
        Role.OWNER: _l("Owner"), Role.ADMIN: _l("Admin"), Role.DEVELOPER: _l("Developer"),
        Role.BILLING: _l("Billing"), Role.VIEWER: _l("Viewer"),
    },
    "team_action": {
        TeamAction.ORGANISATION_CREATE: _l("created the organisation"),
        TeamAction.ORGANISATION_CLOSE: _l("closed the organisation"),
        TeamAction.ORGANISATION_EXPORT: _l("downloaded the organisation's data"),
        TeamAction.KEY_CREATE: _l("created a key"),
        TeamAction.KEY_UPDATE: _l("changed a key's settings"), TeamAction.KEY_ROTATE: _l("rotated a key"),
        TeamAction.KEY_REVOKE: _l("revoked a key"), TeamAction.MEMBER_INVITE: _l("invited someone"),
        TeamAction.INVITATION_REVOKE: _l("withdrew an invitation"), TeamAction.MEMBER_JOIN: _l("joined"),
        TeamAction.MEMBER_REMOVE: _l("removed a member"), TeamAction.MEMBER_LEAVE: _l("left"),
        TeamAction.MEMBER_ROLE: _l("changed a member's role"),
        TeamAction.BILLING_DETAILS: _l("changed the billing details"),
        TeamAction.SPEND_LIMIT: _l("changed the monthly spend limit"), TeamAction.ALERTS: _l("changed the alerts"),
        TeamAction.ORDER_CREATE: _l("started an order"), TeamAction.ORDER_PAID: _l("paid for credits"),
        TeamAction.ORDER_REFUNDED: _l("was refunded"), TeamAction.CREDITS_ADJUSTED: _l("adjusted the credits"),
        TeamAction.SUSPENDED: _l("suspended the organisation"),
        TeamAction.UNSUSPENDED: _l("lifted the suspension"),
    },
    "credit": {
        CreditKind.SIGNUP_BONUS: _l("welcome credits"), CreditKind.PURCHASE: _l("purchase"),
        CreditKind.REFUND: _l("refund"), CreditKind.USAGE: _l("API calls"),
        CreditKind.ADJUSTMENT: _l("adjustment by our staff"), CreditKind.DISPUTE: _l("payment disputed"),
    },
    "dispute": {
        DisputeStatus.WARNING_NEEDS_RESPONSE: _l("inquiry: needs response"),
        DisputeStatus.WARNING_UNDER_REVIEW: _l("inquiry: under review"),
        DisputeStatus.WARNING_CLOSED: _l("inquiry closed"), DisputeStatus.NEEDS_RESPONSE: _l("needs response"),
        DisputeStatus.UNDER_REVIEW: _l("under review"), DisputeStatus.WON: _l("won"), DisputeStatus.LOST: _l("lost"),
        DisputeStatus.PREVENTED: _l("prevented"),
    },
    "dispute_reason": {
        "bank_cannot_process": _l("bank cannot process"), "check_returned": _l("check returned"),
        "credit_not_processed": _l("refund not processed"), "customer_initiated": _l("initiated by the customer"),
        "debit_not_authorized": _l("debit not authorised"), "duplicate": _l("duplicate payment"),
        "fraudulent": _l("fraudulent"), "general": _l("general"), "incorrect_account_details":
        _l("incorrect account details"), "insufficient_funds": _l("insufficient funds"),
        "noncompliant": _l("noncompliant"), "product_not_received": _l("product not received"),
        "product_unacceptable": _l("product unacceptable"), "subscription_canceled": _l("subscription cancelled"),
        "unrecognized": _l("unrecognised"),
    },
}


def label(kind: str, value: str | None) -> str:
    """The translated label of ``value`` in ``kind``; the value itself when it has none."""
    if value is None:
        return ""
    found = LABELS.get(kind, {}).get(value)
    return str(found) if found is not None else value


def label_list(kind: str, values) -> str:
    """The labels of ``values``, sorted and joined the way the visitor's language lists words
    ("Billing and Support", "计费和支持")."""
    words = sorted(label(kind, v) for v in values)
    return format_list(words, locale=get_locale() or "en") if words else ""


def choices(kind: str) -> list[tuple[str, object]]:
    """(value, label) pairs for a select field."""
    return list(LABELS[kind].items())
