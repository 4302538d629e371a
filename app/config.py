"""Configuration classes, read from the environment when they are instantiated. Pick one with
``APP_ENV`` (``development``, the default, ``production`` or ``testing``). A ``.env`` file in the
working directory is read first when present (it never overrides variables already set in the
environment). Every variable is documented in ``docs/configuration.md``."""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

from dotenv import load_dotenv
from flask_babel import lazy_gettext as _l

from app.crypto import EncryptionKeyError, validate_keys
from app.pricing import DEFAULT_PRICING
from app.redis_store import is_cluster

BASE_DIR = Path(__file__).resolve().parent.parent
INSTANCE_DIR = BASE_DIR / "instance"
MAIL_SCHEMES = ("smtp", "smtps", "smtp+starttls")
MAIL_DELIVERIES = ("queue", "background", "inline")
REDIS_SCHEMES = ("redis", "rediss", "unix", "redis+cluster")
# A production SECRET_KEY: at least 32 bytes and 10 different characters (36 x "a" is long but guessable).
SECRET_KEY_MIN_BYTES, SECRET_KEY_MIN_DISTINCT = 32, 10


# VAT rates of some EU member states and the UK, as of 2026 (percent); production sets its own.
DEFAULT_TAX_RATES = ("AT:20,BE:21,DE:19,DK:25,ES:21,FI:25.5,FR:20,GB:20,IE:23,IT:22,NL:21,PL:23,PT:23,SE:25")

# Retention periods in days by setting name, and their defaults (docs/policy-map.md, app/retention.py).
RETENTION_DAYS = {
    "UNVERIFIED_ACCOUNT_DAYS": 30, "SESSION_RETENTION_DAYS": 30, "SESSION_IP_DAYS": 7,
    "ACCOUNT_TOKEN_RETENTION_DAYS": 7, "MAIL_SENT_RETENTION_DAYS": 7, "ACCOUNT_PURGE_DAYS": 30,
    "SECURITY_EVENT_DAYS": 90, "CONSENT_RECORD_DAYS": 3 * 365, "CALL_LOG_DAYS": 90, "WEBHOOK_EVENT_DAYS": 90,
    "CONTACT_RETENTION_DAYS": 365, "CONTACT_IP_DAYS": 7, "CONTACT_LINK_DAYS": 90, "RIGHTS_STATUS_LINK_DAYS": 90,
    "RIGHTS_REQUEST_RETENTION_DAYS": 3 * 365, "UNCONFIRMED_REQUEST_DAYS": 30, "CALL_IP_DAYS": 7,
    "ANALYTICS_VISITOR_DAYS": 395, "AUDIT_RETENTION_DAYS": 730, "ALERT_RECIPIENT_CONFIRM_DAYS": 7,
}


class ConfigError(RuntimeError):
    """Raised when the configuration cannot be used; the message is one line naming the problem."""


def _bool(value: str | None, default: bool = False) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _int(environ, name: str, default: int) -> int:
    raw = environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from exc


def normalise_database_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL URLs given in the common short forms."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


class Config:
    """Settings shared by every environment."""

    ENV_NAME = "base"
    DEBUG = False
    TESTING = False

    def __init__(self, environ=None):
        env = os.environ if environ is None else environ
        self._site_and_stores(env)
        self._mail(env)
        self._backends(env)
        self._web(env)
        self._accounts(env)
        self._api(env)
        self._requests_and_billing(env)
        self._consent(env)
        self._retention(env)

    def _site_and_stores(self, env) -> None:
        """The site, its database, Redis (limits and metering) and the encryption keys."""
        self.SECRET_KEY = env.get("SECRET_KEY") or None
        self.SITE_NAME = env.get("SITE_NAME", "TwtAPI")
        self.SITE_URL = env.get("SITE_URL", "http://127.0.0.1:5000").rstrip("/")
        self.SUPPORT_EMAIL = env.get("SUPPORT_EMAIL", "support@twtapi.com")
        self.SECURITY_EMAIL = env.get("SECURITY_EMAIL", self.SUPPORT_EMAIL)

        database_url = env.get("DATABASE_URL")
        self.DATABASE_URL_SET = bool(database_url)
        self.SQLALCHEMY_DATABASE_URI = normalise_database_url(
            database_url or f"sqlite:///{INSTANCE_DIR / 'twtapi.sqlite'}"
        )
        self.SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
        self.SQLALCHEMY_TRACK_MODIFICATIONS = False

        self.REDIS_URL = env.get("REDIS_URL") or None
        if self.REDIS_URL and urlsplit(self.REDIS_URL).scheme.lower() not in REDIS_SCHEMES:
            raise ConfigError("REDIS_URL must be a redis://, rediss://, unix:// or redis+cluster:// URL "
                              "(leave it unset for memory in development).")
        self.RATELIMIT_STORAGE_URI = self.REDIS_URL or "memory://"
        self.RATELIMIT_KEY_PREFIX = env.get("RATELIMIT_KEY_PREFIX", "twtapi")
        self.RATELIMIT_HEADERS_ENABLED = False
        self.RATELIMIT_STRATEGY = "sliding-window-counter"

        keys = env.get("DATA_ENCRYPTION_KEYS", "")
        self.DATA_ENCRYPTION_KEYS = [k.strip() for k in keys.split(",") if k.strip()]

    def _mail(self, env) -> None:
        """Outgoing mail: where it goes and who delivers the outbox."""
        self.MAIL_URL = env.get("MAIL_URL") or None
        self.MAIL_DIR = env.get("MAIL_DIR") or str(INSTANCE_DIR / "mail")
        self.MAIL_FROM = env.get("MAIL_FROM", f"{self.SITE_NAME} <no-reply@twtapi.com>")
        # Who delivers the outbox: "queue" (the `flask mail send-queued` job or service only),
        # "background" (a thread of the serving process) or "inline" (after each request; tests).
        self.MAIL_DELIVERY = env.get("MAIL_DELIVERY", "queue")
        if self.MAIL_DELIVERY not in MAIL_DELIVERIES:
            raise ConfigError(f"MAIL_DELIVERY must be queue, background or inline, got {self.MAIL_DELIVERY!r}.")

    def _backends(self, env) -> None:
        """Stripe, the data backend, and the demo parts that stand in for them."""
        self.STRIPE_SECRET_KEY = env.get("STRIPE_SECRET_KEY") or None
        self.STRIPE_WEBHOOK_SECRET = env.get("STRIPE_WEBHOOK_SECRET") or None
        self.UPSTREAM_API_URL = env.get("UPSTREAM_API_URL") or None
        # A deliberate public sandbox on the demo parts (demo checkout, sample data backend);
        # announced on every page and by /healthz. Development and tests always have the demo parts.
        self.DEMO_MODE = _bool(env.get("DEMO_MODE"), False)
        self.DEMO_PARTS = True
        # The seller named on every invoice (required in production), and the tax rates by buyer
        # country, in percent ("DE:19,FR:20"); a country not listed is charged no tax.
        self.SELLER_NAME = env.get("SELLER_NAME") or None
        self.SELLER_ADDRESS = (env.get("SELLER_ADDRESS") or "").replace("\\n", "\n") or None
        self.SELLER_COUNTRY = (env.get("SELLER_COUNTRY") or "DE").upper()
        self.SELLER_TAX_ID = env.get("SELLER_TAX_ID") or None
        self.TAX_RATES = env.get("TAX_RATES", DEFAULT_TAX_RATES)
        if not re.fullmatch(r"\s*([A-Za-z]{2}\s*:\s*\d{1,2}(\.\d{1,2})?\s*(,\s*|$))*", self.TAX_RATES):
            raise ConfigError(f"TAX_RATES must look like DE:19,FR:20,FI:25.5, got {self.TAX_RATES!r}")

    def _web(self, env) -> None:
        """Serving: proxies, request sizes, logging, languages, cookies, CSRF, the price list."""
        # Number of trusted reverse proxies in front of the app (0: none, trust nothing).
        self.PROXY_HOPS = _int(env, "PROXY_HOPS", 0)
        self.MAX_CONTENT_LENGTH = _int(env, "MAX_CONTENT_LENGTH", 1024 * 1024)
        self.MAX_FORM_MEMORY_SIZE = self.MAX_CONTENT_LENGTH
        self.LOG_LEVEL = env.get("LOG_LEVEL", "INFO").upper()

        self.LANGUAGES = {"en": "English", "zh_Hans": "简体中文"}
        self.BABEL_DEFAULT_LOCALE = "en"
        self.BABEL_DEFAULT_TIMEZONE = "UTC"
        self.BABEL_TRANSLATION_DIRECTORIES = str(BASE_DIR / "translations")

        self.SESSION_COOKIE_NAME = "session"
        self.SESSION_COOKIE_HTTPONLY = True
        self.SESSION_COOKIE_SAMESITE = "Lax"
        self.SESSION_COOKIE_SECURE = _bool(env.get("SESSION_COOKIE_SECURE"), False)
        self.REMEMBER_COOKIE_HTTPONLY = True
        self.REMEMBER_COOKIE_SAMESITE = "Lax"
        self.REMEMBER_COOKIE_SECURE = self.SESSION_COOKIE_SECURE
        self.WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the session
        # app.security.enforce_csrf checks every unsafe request (session or same-origin token).
        self.WTF_CSRF_CHECK_DEFAULT = False
        self.PREFERRED_URL_SCHEME = "http"

        self.PRICING = DEFAULT_PRICING

    def _accounts(self, env) -> None:
        """Accounts: age, grace period, sign-in and session limits, password hashing, document versions."""
        self.MIN_AGE = _int(env, "MIN_AGE", 16)
        # PIPL (China): the personal-information-protection officer (Art. 52) and the representative
        # in China (Art. 53), shown on the Chinese privacy page when set; where the data goes (Art. 39).
        self.PIPL_OFFICER = env.get("PIPL_OFFICER") or None
        self.PIPL_REPRESENTATIVE = env.get("PIPL_REPRESENTATIVE") or None
        self.DATA_LOCATION = env.get("DATA_LOCATION", "the European Union")
        # The Data Rights Protocol: our id in the agents' directory (requests name it in business-id).
        self.DRP_BUSINESS_ID = env.get("DRP_BUSINESS_ID", "TWTAPI")
        # The longest a signed DRP message may live (expires-at minus issued-at), in minutes.
        self.DRP_MAX_MESSAGE_MINUTES = _int(env, "DRP_MAX_MESSAGE_MINUTES", 15)
        if not 1 <= self.DRP_MAX_MESSAGE_MINUTES <= 24 * 60:
            raise ConfigError("DRP_MAX_MESSAGE_MINUTES must be between 1 and 1440")
        self.ACCOUNT_GRACE_DAYS = _int(env, "ACCOUNT_GRACE_DAYS", 14)
        self.REGISTER_RATE_LIMIT = env.get("REGISTER_RATE_LIMIT", "10 per hour")
        self.RESET_RATE_LIMIT = env.get("RESET_RATE_LIMIT", "10 per hour")
        self.SESSION_IDLE_MINUTES = _int(env, "SESSION_IDLE_MINUTES", 30)
        self.REAUTH_MINUTES = _int(env, "REAUTH_MINUTES", 5)
        self.STAFF_IDLE_MINUTES = _int(env, "STAFF_IDLE_MINUTES", 30)
        self.REMEMBER_DAYS = _int(env, "REMEMBER_DAYS", 30)
        self.PERMANENT_SESSION_LIFETIME = timedelta(days=self.REMEMBER_DAYS)
        self.PASSWORD_HASH_TIME_COST = _int(env, "PASSWORD_HASH_TIME_COST", 2)
        self.PASSWORD_HASH_MEMORY_KIB = _int(env, "PASSWORD_HASH_MEMORY_KIB", 19 * 1024)
        # Version labels of the documents a new account accepts (versioned documents replace these).
        self.PRIVACY_POLICY_VERSION = env.get("PRIVACY_POLICY_VERSION", "2025-02-26")
        self.TERMS_VERSION = env.get("TERMS_VERSION", "2026-12-01")

    def _api(self, env) -> None:
        """The API gateway and metering."""
        self.UPSTREAM_TIMEOUT_SECONDS = float(env.get("UPSTREAM_TIMEOUT_SECONDS", "10"))
        # The low-balance alerts of an account that chose none: "N%" a share of its last 30 days'
        # use, "N" credits (checked at start by billing.alerts.parse_thresholds).
        self.LOW_CREDIT_THRESHOLDS = env.get("LOW_CREDIT_THRESHOLDS", "25%,10%,5%")
        if not re.fullmatch(r"\s*(\d{1,9}%?\s*(,\s*\d{1,9}%?\s*){0,4})?", self.LOW_CREDIT_THRESHOLDS):
            raise ConfigError("LOW_CREDIT_THRESHOLDS must be up to five comma-separated thresholds like 25% or 500, "
                              f"got {self.LOW_CREDIT_THRESHOLDS!r}")
        self.LOW_CREDIT_MAIL_MINUTES = _int(env, "LOW_CREDIT_MAIL_MINUTES", 0)
        # How long a checkout session takes payment (Stripe allows 30 minutes to 24 hours).
        self.CHECKOUT_EXPIRY_MINUTES = _int(env, "CHECKOUT_EXPIRY_MINUTES", 60)
        if not 30 <= self.CHECKOUT_EXPIRY_MINUTES <= 1440:
            raise ConfigError("CHECKOUT_EXPIRY_MINUTES must be between 30 and 1440, "
                              f"got {self.CHECKOUT_EXPIRY_MINUTES}")
        # How calls are metered: "database" (each call charged and logged in its request) or "redis"
        # (charged atomically in Redis, logged in batches); empty: "redis" when REDIS_URL is set.
        self.API_METERING = env.get("API_METERING") or None
        self.KEY_CACHE_SECONDS = float(env.get("KEY_CACHE_SECONDS", "60"))
        # Who writes metered call records to the database: a thread in each application process
        # ("background"), the `flask usage flush --follow` service ("external"), or the request ("inline").
        self.METERING_FLUSH = env.get("METERING_FLUSH", "background")
        self.METERING_FLUSH_INTERVAL_SECONDS = float(env.get("METERING_FLUSH_INTERVAL_SECONDS", "0.2"))
        self.METERING_FLUSH_BATCH = _int(env, "METERING_FLUSH_BATCH", 1000)
        # Accounts are spread over this many groups of meter keys (one hash slot each): 1 on one
        # Redis server, 16 on a Redis Cluster so the load spreads over its nodes. Change it only
        # with the gateway stopped and `flask usage flush` run (docs/deployment.md).
        self.METERING_SHARDS = _int(env, "METERING_SHARDS", 16 if is_cluster(self.REDIS_URL) else 1)
        if not 1 <= self.METERING_SHARDS <= 1024:
            raise ConfigError(f"METERING_SHARDS must be between 1 and 1024, got {self.METERING_SHARDS}")

    def _requests_and_billing(self, env) -> None:
        """Rights requests, the contact form, billing and the sub-processors the policy names."""
        self.RIGHTS_RATE_LIMIT_IP = env.get("RIGHTS_RATE_LIMIT_IP", "5 per hour")
        self.RIGHTS_RATE_LIMIT_ADDRESS = env.get("RIGHTS_RATE_LIMIT_ADDRESS", "3 per hour")
        self.PRIVACY_STAFF_EMAIL = env.get("PRIVACY_STAFF_EMAIL") or None  # digest also goes to privacy staff

        # Contact form
        self.CONTACT_RATE_LIMIT_IP = env.get("CONTACT_RATE_LIMIT_IP", "5 per hour")
        self.CONTACT_RATE_LIMIT_ADDRESS = env.get("CONTACT_RATE_LIMIT_ADDRESS", "3 per hour")

        # Billing
        self.ORDER_RETENTION_YEARS = _int(env, "ORDER_RETENTION_YEARS", 10)
        self.ORDER_RETENTION_DAYS = self.ORDER_RETENTION_YEARS * 365
        # Development signs demo payments with a key derived from SECRET_KEY when this is unset.
        self.STRIPE_WEBHOOK_TOLERANCE_SECONDS = _int(env, "STRIPE_WEBHOOK_TOLERANCE_SECONDS", 300)

        # Sub-processors named in the privacy policy (rendered from here, so the text follows the setup)
        self.SUBPROCESSORS = [
            {"name": "Stripe, Inc.", "purpose": _l("Payments: processes card payments for credit packs.")},
            {"name": env.get("HOSTING_PROVIDER", "Our cloud hosting provider"),
             "purpose": _l("Hosting: runs our servers and databases.")},
            {"name": env.get("EMAIL_PROVIDER", "Our e-mail delivery provider"),
             "purpose": _l("E-mail delivery: sends our messages to you.")},
        ]

    def _consent(self, env) -> None:
        """Cookie consent."""
        self.CONSENT_MAX_AGE_DAYS = _int(env, "CONSENT_MAX_AGE_DAYS", 180)
        self.CONSENT_REJECT_MAX_AGE_DAYS = _int(env, "CONSENT_REJECT_MAX_AGE_DAYS", 180)
        self.COOKIE_POLICY_VERSION = env.get("COOKIE_POLICY_VERSION", "2026-11-28")
        # One line shown when the cookie policy changed since the visitor's decision.
        self.COOKIE_POLICY_CHANGES = env.get("COOKIE_POLICY_CHANGES", "")

    def _retention(self, env) -> None:
        """Retention periods in days (docs/policy-map.md, app/retention.py)."""
        for name, default in RETENTION_DAYS.items():
            setattr(self, name, _int(env, name, default))
        # Not a setting: the analytics salt of a day is deleted once the day is over, always.
        self.ANALYTICS_SALT_DAYS = 0

    def validate(self) -> None:
        """Raise ConfigError when a setting this environment needs is missing."""


class DevelopmentConfig(Config):
    ENV_NAME = "development"
    DEBUG = False  # the interactive debugger is opt-in: FLASK_DEBUG=1 flask run

    def __init__(self, environ=None):
        super().__init__(environ)
        # Development only: a fixed, clearly-labelled key so `make run` works out of the box.
        # Production refuses to start without SECRET_KEY (see ProductionConfig.validate).
        self.SECRET_KEY = self.SECRET_KEY or "development-only-not-secret"  # noqa: S105
        self.MAIL_DELIVERY = (os.environ if environ is None else environ).get("MAIL_DELIVERY", "background")


class TestingConfig(Config):
    ENV_NAME = "testing"
    TESTING = True

    def __init__(self, environ=None):
        super().__init__(environ)
        self.SECRET_KEY = "testing-only-not-secret"  # noqa: S105
        self.SQLALCHEMY_DATABASE_URI = "sqlite://"
        self.MAIL_DIR = None
        self.METERING_FLUSH = "inline"  # tests read the call log right after a call
        self.MAIL_DELIVERY = "inline"  # tests read their mail right after a request
        self.TAX_RATES = ""  # untaxed prices, unless a test of tax sets its rates


class ProductionConfig(Config):
    ENV_NAME = "production"

    def __init__(self, environ=None):
        env = os.environ if environ is None else environ
        super().__init__(env)
        self.SESSION_COOKIE_SECURE = _bool(env.get("SESSION_COOKIE_SECURE"), True)
        self.REMEMBER_COOKIE_SECURE = self.SESSION_COOKIE_SECURE
        # ASVS 5.0 3.3.1: the __Host- prefix makes browsers refuse the cookie unless it is Secure,
        # for Path=/ and without a Domain, so no subdomain or plain-http page can set or shadow it.
        if self.SESSION_COOKIE_SECURE:
            self.SESSION_COOKIE_NAME = "__Host-session"
            self.SESSION_COOKIE_DOMAIN = None
            self.SESSION_COOKIE_PATH = "/"
        self.PROXY_HOPS = _int(env, "PROXY_HOPS", 1)
        self.PREFERRED_URL_SCHEME = "https"
        # Production never writes mail to files nor keeps rate limits in one process's memory.
        self.MAIL_DIR = None
        # The `flask usage flush --follow` service writes call records, so app workers serve only
        # requests (docs/deployment.md); /healthz reports how many wait and for how long.
        self.METERING_FLUSH = env.get("METERING_FLUSH", "external")
        self.DEMO_PARTS = self.DEMO_MODE

    def validate(self) -> None:
        required = [
            ("SECRET_KEY", bool(self.SECRET_KEY)),
            ("DATABASE_URL", self.DATABASE_URL_SET),
            ("DATA_ENCRYPTION_KEYS", bool(self.DATA_ENCRYPTION_KEYS)),
            ("REDIS_URL", bool(self.REDIS_URL)),
            ("MAIL_URL", bool(self.MAIL_URL)),
        ]
        if not self.DEMO_MODE:  # a sandbox (DEMO_MODE=1) runs the demo checkout and the sample backend
            required += [
                ("STRIPE_SECRET_KEY", bool(self.STRIPE_SECRET_KEY)),
                ("STRIPE_WEBHOOK_SECRET", bool(self.STRIPE_WEBHOOK_SECRET)),
                ("UPSTREAM_API_URL", bool(self.UPSTREAM_API_URL)),
                ("SELLER_NAME", bool(self.SELLER_NAME)),
                ("SELLER_ADDRESS", bool(self.SELLER_ADDRESS)),
                ("SELLER_TAX_ID", bool(self.SELLER_TAX_ID)),
            ]
        missing = [name for name, present in required if not present]
        if missing:
            raise ConfigError(f"Production configuration is incomplete: set {', '.join(missing)} "
                              "(see docs/configuration.md).")
        uri = self.SQLALCHEMY_DATABASE_URI
        temporary = uri in {"sqlite://", "sqlite:///:memory:"} or "/tmp/" in uri  # noqa: S108 - refused
        if uri.startswith("sqlite") and temporary:
            raise ConfigError("Production refuses a temporary SQLite database: point DATABASE_URL at PostgreSQL.")
        if urlsplit(self.MAIL_URL).scheme.lower() not in MAIL_SCHEMES:
            raise ConfigError("MAIL_URL must be an smtp://, smtps:// or smtp+starttls:// URL in production.")
        if self.STRIPE_SECRET_KEY and self.STRIPE_WEBHOOK_SECRET is None:
            raise ConfigError("Production configuration is incomplete: set STRIPE_WEBHOOK_SECRET "
                              "(see docs/configuration.md).")
        self._refuse_unsafe_settings()

        try:
            validate_keys(self.DATA_ENCRYPTION_KEYS)
        except EncryptionKeyError as exc:
            raise ConfigError(str(exc) + ".") from None

    def _refuse_unsafe_settings(self) -> None:
        """Settings that work but are unsafe on a public site, each refused with one line."""
        key = self.SECRET_KEY
        if len(key.encode()) < SECRET_KEY_MIN_BYTES or len(set(key)) < SECRET_KEY_MIN_DISTINCT:
            raise ConfigError("SECRET_KEY is too short or too regular for production: use at least 32 random "
                              "characters (python -c 'import secrets; print(secrets.token_urlsafe(48))').")
        if not self.SESSION_COOKIE_SECURE:
            raise ConfigError("SESSION_COOKIE_SECURE must stay on in production: serve the site over HTTPS.")
        if self.MAIL_DELIVERY == "inline":
            raise ConfigError("MAIL_DELIVERY=inline is for tests: use queue or background in production.")
        if not self.SITE_URL.startswith("https://"):  # links in mail, passkeys, RFC 8058 one-click unsubscribe
            raise ConfigError("SITE_URL must be the site's public https:// address in production.")


CONFIGS = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}


def load_config(name: str | None = None, environ=None) -> Config:
    """Build and validate the configuration called ``name`` (default: ``APP_ENV``)."""
    if environ is None:
        load_dotenv(BASE_DIR / ".env", override=False)
        environ = os.environ
    name = name or environ.get("APP_ENV") or "development"
    try:
        cls = CONFIGS[name]
    except KeyError as exc:
        raise ConfigError(f"APP_ENV must be one of {', '.join(sorted(CONFIGS))}, got {name!r}.") from exc
    config = cls(environ)
    config.validate()
    return config
