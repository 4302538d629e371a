"""Settings of the service: accounts, the API gateway, requests and messages, legal documents and
consent, and the retention periods. Each field is one environment variable (see ``site``)."""

from __future__ import annotations

from typing import Literal

from app.config.fields import RateLimit, Text, Thresholds, setting
from app.config.site import Section


class Accounts(Section):
    """Accounts"""

    MIN_AGE: int = setting(16, "the age a new user confirms (\"I am at least N years old\"); below 14, sign-ups in "
                           "Chinese also ask for a parent's or guardian's consent (PIPL Art. 31)", ge=0, le=120)
    PIPL_OFFICER: Text | None = setting(
        None, "the personal-information-protection officer's name and contact (PIPL Art. 52), shown on the Chinese "
        "privacy page when set")
    PIPL_REPRESENTATIVE: Text | None = setting(
        None, "the representative in China (PIPL Art. 53), shown on the Chinese privacy page when set")
    DATA_LOCATION: Text = setting(
        "the European Union", "where the service stores and processes data, as told to Chinese-speaking customers "
        "before their separate consent to the transfer abroad (PIPL Art. 39)",
        shown="`the European Union` (shown translated)")
    DRP_BUSINESS_ID: Text = setting("TWTAPI", "our id in the Data Rights Protocol directory: agents' signed requests "
                                    "must name it in `business-id`")
    DRP_MAX_MESSAGE_MINUTES: int = setting(
        15, "the longest a signed Data Rights Protocol message may live (`expires-at` minus `issued-at`); a longer "
        "one is refused (400)", ge=1, le=24 * 60)
    ACCOUNT_GRACE_DAYS: int = setting(14, "a closed account reopens when its owner signs in within this period", ge=0)
    SESSION_IDLE_MINUTES: int = setting(30, "a session without \"keep me signed in\" ends after this much inactivity",
                                        ge=1)
    REMEMBER_DAYS: int = setting(30, "lifetime of a \"keep me signed in\" session", ge=1)
    REAUTH_MINUTES: int = setting(5, "how long a re-entered password (and code) covers sensitive actions", ge=1)
    STAFF_IDLE_MINUTES: int = setting(30, "staff sessions end after this much inactivity, \"keep me signed in\" or not",
                                      ge=1)
    PASSWORD_HASH_TIME_COST: int = setting(2, "argon2id passes; hashes made with older parameters are upgraded at the "
                                           "next sign-in", ge=1)
    PASSWORD_HASH_MEMORY_KIB: int = setting(19 * 1024, "argon2id memory, KiB (upgraded like the passes)", ge=8)
    REGISTER_RATE_LIMIT: RateLimit = setting("10 per hour", "sign-ups per IP")
    RESET_RATE_LIMIT: RateLimit = setting("10 per hour", "password-reset requests per IP")
    PRIVACY_POLICY_VERSION: Text = setting("2025-02-26", "the privacy policy's version recorded at sign-up when no "
                                           "document is published yet")
    TERMS_VERSION: Text = setting("2026-12-01", "the terms' version recorded at sign-up when no document is "
                                  "published yet")


class Gateway(Section):
    """API gateway and credits"""

    UPSTREAM_API_URL: Text | None = setting(
        None, "the data backend `/api/v1` forwards calls to (`<url>/users/jack`...); required in production",
        shown="unset: the built-in sample data backend")
    UPSTREAM_TIMEOUT_SECONDS: float = setting(10.0, "how long to wait for it; a timeout is a 502 and charges nothing",
                                              gt=0)
    LOW_CREDIT_THRESHOLDS: Thresholds = setting(
        "25%,10%,5%", "the low-balance alerts of an account that has not chosen its own on `/account/alerts`: each "
        "`N%` (a share of the credits the account used in the last 30 days, or of its last purchase while it has "
        "used none) or `N` credits. One e-mail per crossing to the owner and the addresses they confirmed (claimed "
        "atomically, so concurrent calls send one), re-armed by a top-up; thresholds at or above the sign-up bonus "
        "wait until the account has bought credits. The balances they come to are recomputed daily by "
        "`flask credits refresh-alerts`")
    LOW_CREDIT_MAIL_MINUTES: int = setting(
        0, "when above 0: at most one low-balance e-mail per this many minutes (a crossing inside the window is not "
        "mailed)", ge=0)
    API_METERING: Literal["database", "redis"] | None = setting(
        None, "how each call is authenticated, rate-limited, charged and logged: `database` (in the request's own "
        "transaction) or `redis` (one atomic Redis script per call; the call log is written in batches; needs "
        "`REDIS_URL`)", shown="`redis` when `REDIS_URL` is set, else `database`")
    METERING_FLUSH: Literal["background", "external", "inline"] = setting(
        "background", "with `redis`: who writes the call records to the database: `background` (a thread in each "
        "app process), `external` (the `flask usage flush --follow` service; `/healthz` reports what waits for it) "
        "or `inline` (the request itself; the test suite)", production="external")
    METERING_FLUSH_INTERVAL_SECONDS: float = setting(0.2, "how long a flusher lets records gather before writing a "
                                                     "batch", gt=0)
    METERING_FLUSH_BATCH: int = setting(1000, "the largest batch, records", ge=1)
    METERING_SHARDS: int | None = setting(
        None, "with `redis`: how many groups the accounts are spread over (an account's group is its id modulo "
        "this); each group's keys share one hash slot, so on a Redis Cluster the groups spread the load over the "
        "nodes. Change it only with the gateway stopped and `flask usage flush` run (records in a group no longer "
        "read would wait)", shown="1 on one server, 16 with `redis+cluster://`", ge=1, le=1024)
    KEY_CACHE_SECONDS: float = setting(
        60.0, "with `redis`: how long a process keeps a key it has read (any revoke, rotation, suspension, closure "
        "or erasure drops every cached key at once; this is only the backstop)", ge=0)


class Requests(Section):
    """Rights requests and the contact form"""

    RIGHTS_RATE_LIMIT_IP: RateLimit = setting("5 per hour", "rights requests per IP")
    RIGHTS_RATE_LIMIT_ADDRESS: RateLimit = setting("3 per hour", "rights requests per address")
    PRIVACY_STAFF_EMAIL: Text | None = setting(
        None, "an extra recipient of the daily digest (staff with the privacy or admin role always get it)")
    CONTACT_RATE_LIMIT_IP: RateLimit = setting("5 per hour", "contact messages per IP")
    CONTACT_RATE_LIMIT_ADDRESS: RateLimit = setting("3 per hour", "contact messages per sender address")


class Consent(Section):
    """Legal documents and cookie consent"""

    HOSTING_PROVIDER: Text = setting("Our cloud hosting provider", "name of the hosting sub-processor listed in the "
                                     "privacy policy (Stripe is always listed)")
    EMAIL_PROVIDER: Text = setting("Our e-mail delivery provider", "name of the e-mail delivery sub-processor listed "
                                   "in the privacy policy")
    CONSENT_MAX_AGE_DAYS: int = setting(180, "a decision that allows optional cookies is asked again after this", ge=1)
    CONSENT_REJECT_MAX_AGE_DAYS: int = setting(180, "a refusal is asked again after this", ge=1)
    COOKIE_POLICY_VERSION: Text = setting(
        "2026-11-28", "version of the cookie choices recorded with each consent; change it when the cookies or their "
        "purposes change, and every visitor is asked again (a new cookie-policy document that only clarifies does "
        "not need it)")
    COOKIE_POLICY_CHANGES: Text = setting("", "one line shown in the banner when it asks again after a change")


def _days(default: int, rule: str) -> int:
    return setting(default, rule, ge=0)


class Retention(Section):
    """Retention (days)"""

    UNVERIFIED_ACCOUNT_DAYS: int = _days(30, "accounts never confirmed are deleted")
    ACCOUNT_PURGE_DAYS: int = _days(30, "a closed account is erased by `flask privacy purge` after this period")
    SESSION_RETENTION_DAYS: int = _days(30, "ended or expired sign-in sessions are deleted")
    SESSION_IP_DAYS: int = _days(7, "session IP addresses are cut to their network (/24, /48)")
    ACCOUNT_TOKEN_RETENTION_DAYS: int = _days(7, "expired e-mailed tokens, and answered passkey challenges, are "
                                              "deleted")
    MAIL_SENT_RETENTION_DAYS: int = _days(7, "envelopes of delivered mail are deleted (bodies are wiped at delivery)")
    SECURITY_EVENT_DAYS: int = _days(90, "security activity (sign-ins, password and 2FA changes) shown and kept")
    AUDIT_RETENTION_DAYS: int = _days(730, "audit entries of staff actions are kept, then deleted")
    CONSENT_RECORD_DAYS: int = _days(3 * 365, "proof of each cookie decision is kept, then deleted")
    CALL_LOG_DAYS: int = _days(90, "raw API calls are deleted (daily roll-ups, without IPs, remain)")
    CALL_IP_DAYS: int = _days(7, "the IP address of an API call is cut to its network")
    WEBHOOK_EVENT_DAYS: int = _days(90, "ids of applied Stripe events (kept to ignore repeated deliveries) are deleted")
    CONTACT_RETENTION_DAYS: int = _days(365, "support conversations are deleted this long after they are closed")
    CONTACT_IP_DAYS: int = _days(7, "the sender's IP address is cut to its network")
    CONTACT_LINK_DAYS: int = _days(90, "how long the signed reply link in our e-mails works")
    RIGHTS_REQUEST_RETENTION_DAYS: int = _days(3 * 365, "answered rights requests and their history are deleted")
    UNCONFIRMED_REQUEST_DAYS: int = _days(30, "requests whose address was never confirmed are deleted")
    RIGHTS_STATUS_LINK_DAYS: int = _days(90, "how long the link to a rights request's status page works")
    ANALYTICS_VISITOR_DAYS: int = _days(395, "daily visitor hashes (unique-visitor counts) are deleted")
    ALERT_RECIPIENT_CONFIRM_DAYS: int = _days(7, "how long the link that confirms another alert address works; an "
                                              "address never confirmed is deleted after this many days")
    INVITATION_DAYS: int = setting(7, "how long the link of an invitation to an organisation works", ge=1, le=30)
    TEAM_LOG_DAYS: int = _days(730, "an organisation's team audit log entries are deleted")
    INVITATION_RETENTION_DAYS: int = _days(30, "an invitation is deleted this long after it was accepted, revoked or "
                                               "expired")
