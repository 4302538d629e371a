"""The three environments: each reads the settings model for its own defaults, adds the fixed
settings Flask and its extensions need, and production refuses what would be unsafe on a public
site. An instance's upper-case attributes are the application's config mapping."""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import timedelta

from flask_babel import lazy_gettext as _l

from app.config.fields import BASE_DIR, INSTANCE_DIR, ConfigError
from app.config.model import Settings
from app.config.site import key_list
from app.pricing import DEFAULT_PRICING
from app.redis_store import is_cluster

# A production SECRET_KEY: at least 32 bytes and 10 different characters (36 x "a" is long but guessable).
SECRET_KEY_MIN_BYTES, SECRET_KEY_MIN_DISTINCT = 32, 10


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

    def __init__(self, environ: Mapping[str, str] | None = None):
        env = os.environ if environ is None else environ
        settings = Settings.from_environ(env, self.ENV_NAME)
        self.__dict__.update(settings.model_dump())
        self._stores(settings)
        self._fixed()

    def _stores(self, s: Settings) -> None:
        """The values made from a setting: the database URI, the key list, the defaults that follow
        another setting."""
        del self.DATABASE_URL  # the application reads SQLALCHEMY_DATABASE_URI (and whether one was given)
        self.DATABASE_URL_SET = bool(s.DATABASE_URL)
        self.SQLALCHEMY_DATABASE_URI = normalise_database_url(
            s.DATABASE_URL or f"sqlite:///{INSTANCE_DIR / 'twtapi.sqlite'}")
        self.RATELIMIT_STORAGE_URI = s.REDIS_URL or "memory://"
        self.DATA_ENCRYPTION_KEYS = key_list(s.DATA_ENCRYPTION_KEYS or "")
        self.SECURITY_EMAIL = s.SECURITY_EMAIL if s.SECURITY_EMAIL is not None else s.SUPPORT_EMAIL
        self.MAIL_DIR = s.MAIL_DIR or str(INSTANCE_DIR / "mail")
        self.MAIL_FROM = s.MAIL_FROM or f"{s.SITE_NAME} <no-reply@twtapi.com>"
        self.SELLER_ADDRESS = (s.SELLER_ADDRESS or "").replace("\\n", "\n") or None
        self.MAX_FORM_MEMORY_SIZE = s.MAX_CONTENT_LENGTH
        self.REMEMBER_COOKIE_SECURE = s.SESSION_COOKIE_SECURE
        self.PERMANENT_SESSION_LIFETIME = timedelta(days=s.REMEMBER_DAYS)
        # Accounts are spread over this many groups of meter keys (one hash slot each): 1 on one
        # Redis server, 16 on a Redis Cluster so the load spreads over its nodes.
        self.METERING_SHARDS = s.METERING_SHARDS or (16 if is_cluster(s.REDIS_URL) else 1)
        self.ORDER_RETENTION_DAYS = s.ORDER_RETENTION_YEARS * 365
        # Sub-processors named in the privacy policy (rendered from here, so the text follows the setup)
        self.SUBPROCESSORS = [
            {"name": "Stripe, Inc.", "purpose": _l("Payments: processes card payments for credit packs.")},
            {"name": s.HOSTING_PROVIDER, "purpose": _l("Hosting: runs our servers and databases.")},
            {"name": s.EMAIL_PROVIDER, "purpose": _l("E-mail delivery: sends our messages to you.")},
        ]

    def _fixed(self) -> None:
        """Settings that are not read from the environment."""
        self.SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
        self.SQLALCHEMY_TRACK_MODIFICATIONS = False
        self.RATELIMIT_HEADERS_ENABLED = False
        self.RATELIMIT_STRATEGY = "sliding-window-counter"
        # Development and tests always have the demo parts (demo checkout, sample data backend).
        self.DEMO_PARTS = True
        self.LANGUAGES = {"en": "English", "zh_Hans": "简体中文"}
        self.BABEL_DEFAULT_LOCALE = "en"
        self.BABEL_DEFAULT_TIMEZONE = "UTC"
        self.BABEL_TRANSLATION_DIRECTORIES = str(BASE_DIR / "translations")
        self.SESSION_COOKIE_NAME = "session"
        self.SESSION_COOKIE_HTTPONLY = True
        self.SESSION_COOKIE_SAMESITE = "Lax"
        self.REMEMBER_COOKIE_HTTPONLY = True
        self.REMEMBER_COOKIE_SAMESITE = "Lax"
        self.WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the session
        # app.security.enforce_csrf checks every unsafe request (session or same-origin token).
        self.WTF_CSRF_CHECK_DEFAULT = False
        self.PREFERRED_URL_SCHEME = "http"
        self.PRICING = DEFAULT_PRICING
        # Not a setting: the analytics salt of a day is deleted once the day is over, always.
        self.ANALYTICS_SALT_DAYS = 0

    def validate(self) -> None:
        """Raise ConfigError when a setting this environment needs is missing."""


class DevelopmentConfig(Config):
    """Works with no environment at all: a fixed, clearly-labelled SECRET_KEY (the model's
    development default), mail delivered by a background thread."""

    ENV_NAME = "development"
    DEBUG = False  # the interactive debugger is opt-in: FLASK_DEBUG=1 flask run


class TestingConfig(Config):
    ENV_NAME = "testing"
    TESTING = True

    def __init__(self, environ: Mapping[str, str] | None = None):
        super().__init__(environ)
        self.SECRET_KEY = "testing-only-not-secret"  # noqa: S105
        self.SQLALCHEMY_DATABASE_URI = "sqlite://"
        self.MAIL_DIR = None
        self.METERING_FLUSH = "inline"  # tests read the call log right after a call
        self.MAIL_DELIVERY = "inline"  # tests read their mail right after a request
        self.TAX_RATES = ""  # untaxed prices, unless a test of tax sets its rates


class ProductionConfig(Config):
    """Secure cookies behind one trusted proxy, https URLs, no mail files, call records left to the
    `flask usage flush --follow` service (the model's production defaults); refuses to start
    without what a public site needs."""

    ENV_NAME = "production"

    def __init__(self, environ: Mapping[str, str] | None = None):
        super().__init__(environ)
        # ASVS 5.0 3.3.1: the __Host- prefix makes browsers refuse the cookie unless it is Secure,
        # for Path=/ and without a Domain, so no subdomain or plain-http page can set or shadow it.
        if self.SESSION_COOKIE_SECURE:
            self.SESSION_COOKIE_NAME = "__Host-session"
            self.SESSION_COOKIE_DOMAIN = None
            self.SESSION_COOKIE_PATH = "/"
        self.PREFERRED_URL_SCHEME = "https"
        # Production never writes mail to files nor keeps rate limits in one process's memory.
        self.MAIL_DIR = None
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
        if self.STRIPE_SECRET_KEY and self.STRIPE_WEBHOOK_SECRET is None:
            raise ConfigError("Production configuration is incomplete: set STRIPE_WEBHOOK_SECRET "
                              "(see docs/configuration.md).")
        self._refuse_unsafe_settings()

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
