"""Settings of the site itself: its stores, mail, serving, and payments. Each field is one
environment variable, typed, with its default and what it means (docs/configuration.md is
generated from these declarations)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict

from app.config.fields import (
    CountryCode,
    Kind,
    LogLevel,
    MailUrl,
    RedisUrl,
    Switch,
    TaxRates,
    Text,
    WebAddress,
    setting,
)
from app.crypto import validate_keys

# VAT rates of some EU member states and the UK, as of 2026 (percent); production sets its own.
DEFAULT_TAX_RATES = ("AT:20,BE:21,DE:19,DK:25,ES:21,FI:25.5,FR:20,GB:20,IE:23,IT:22,NL:21,PL:23,PT:23,SE:25")


def key_list(value: str) -> list[str]:
    return [k.strip() for k in value.split(",") if k.strip()]


def _fernet_keys(value: str) -> str:
    validate_keys(key_list(value))  # an EncryptionKeyError is a ValueError: the start stops with one line
    return value


FernetKeys = Annotated[str, AfterValidator(_fernet_keys),
                      Kind("comma-separated Fernet keys, newest first (generate one with: flask crypto generate-key)")]


class Section(BaseModel):
    """A group of settings; its docstring's first line is the heading in docs/configuration.md.
    Only the whole model (``app.config.model.Settings``) is built and validated."""

    model_config = ConfigDict(defer_build=True, validate_default=True, extra="forbid")


class SiteAndStores(Section):
    """The site and its stores"""

    SECRET_KEY: Text | None = setting(
        None, "signs the session cookie and tokens, and keys the audit log's hash chain (after changing it, "
        "`flask audit verify` reports the older entries: keep the old value on record to check them; the chain's "
        "anchors are sealed with it too). Production refuses a key under 32 bytes or with fewer than 10 different "
        "characters (the key is never printed). Generate with "
        "`python -c \"import secrets; print(secrets.token_urlsafe(48))\"`",
        development="development-only-not-secret", secret=True,
        allowed="any text (production: at least 32 bytes and 10 different characters)",
        shown="development: fixed, labelled not secret; required in production")
    DEMO_MODE: Switch = setting(False, "`1`: a public sandbox on the demo parts (see above)")
    SITE_NAME: Text = setting("TwtAPI", "the name shown in pages and mail")
    SITE_URL: WebAddress = setting(
        "http://127.0.0.1:5000", "the public base URL, used in mail and security.txt; production requires an "
        "`https://` address (the one-click unsubscribe of RFC 8058 needs one; the development default is refused); "
        "its host is also the domain passkeys are bound to (the WebAuthn relying party id) and its origin the only "
        "one a passkey answer is accepted from. At an IP address there are no passkeys (the pages say so); moving "
        "the site to another domain leaves existing passkeys unusable (customers sign in with the password and add "
        "new ones)", shown="`http://127.0.0.1:5000` (`make run`: `http://localhost:5000`)")
    SUPPORT_EMAIL: Text = setting("support@twtapi.com", "support address shown on the site")
    SECURITY_EMAIL: Text | None = setting(None, "contact in `/.well-known/security.txt`", shown="`SUPPORT_EMAIL`")
    DATABASE_URL: Text | None = setting(
        None, "SQLAlchemy URL. `postgres://` and `postgresql://` are rewritten to `postgresql+psycopg://` "
        "(psycopg 3); required in production, and never a temporary SQLite database there",
        shown="`sqlite:///instance/twtapi.sqlite`", config_key="SQLALCHEMY_DATABASE_URI")
    REDIS_URL: RedisUrl | None = setting(
        None, "storage for rate-limit counters, shared by every worker and host; also where API calls are metered "
        "(`API_METERING`). Required in production. Any other scheme, `memory://` included, is refused at start. "
        "`rediss://` connects over TLS; add `?ssl_ca_certs=/path/ca.pem` to trust a private CA (both the metering "
        "client and redis-py read it). `redis+cluster://host:port[,host:port…]` (optionally `user:password@` "
        "first) uses a Redis Cluster, found from any node listed: the meter, Flask-Limiter's storage, the "
        "throttles and `/healthz` all use it (no TLS in this form yet; keep the cluster on a private network)",
        shown="unset: in-memory storage, and **every limit counts per worker process**, so N workers allow N times "
        "each limit (`show-config` says so); fine for `make run`, never for a deployment")
    RATELIMIT_KEY_PREFIX: Text = setting("twtapi", "prefix of the rate-limit and metering keys in Redis")
    DATA_ENCRYPTION_KEYS: FernetKeys | None = setting(
        None, "comma-separated Fernet keys for field encryption, newest first (`flask crypto generate-key` makes "
        "one); values are written with the first and read with any", secret=True,
        shown="development: derived from `SECRET_KEY`; required in production")


class Mail(Section):
    """Mail"""

    MAIL_URL: MailUrl | None = setting(
        None, "SMTP server: `smtp://host:25`, `smtps://user:pass@host:465` (TLS), "
        "`smtp+starttls://user:pass@host:587` (STARTTLS); user and password URL-encoded. Required in production",
        shown="unset (development only): mail is written as `.eml` files")
    MAIL_DIR: Text | None = setting(None, "where development mail is written", shown="`instance/mail`")
    MAIL_FROM: Text | None = setting(None, "sender address", shown="`TwtAPI <no-reply@twtapi.com>` (after `SITE_NAME`)")
    MAIL_DELIVERY: Literal["queue", "background", "inline"] = setting(
        "queue", "who delivers the outbox: `queue` (only `flask mail send-queued`, cron or `--follow` service), "
        "`background` (a thread of the serving process) or `inline` (after each request; tests). Production "
        "refuses `inline`", development="background")


class Serving(Section):
    """Serving"""

    PROXY_HOPS: int = setting(0, "number of trusted reverse proxies; their `X-Forwarded-For/Proto/Host/Port/Prefix` "
                              "are honoured", production=1, ge=0)
    SESSION_COOKIE_SECURE: Switch = setting(
        False, "mark cookies `Secure`; in production the session cookie is then named `__Host-session` (Path=/, no "
        "Domain: ASVS 5.0 3.3.1); production refuses it off", production=True)
    MAX_CONTENT_LENGTH: int = setting(1024 * 1024, "largest accepted request body, bytes; larger requests get 413",
                                      ge=1)
    LOG_LEVEL: LogLevel = setting("INFO", "log level of the application (any case)")


class Payments(Section):
    """Payments and invoices"""

    STRIPE_SECRET_KEY: Text | None = setting(
        None, "Stripe API key; when set, checkout goes to Stripe Checkout (and the CSP allows the form to go there). "
        "The payment backend is chosen once, at start-up", secret=True,
        shown="unset: the demo checkout (development, `DEMO_MODE=1`); required in production")
    STRIPE_WEBHOOK_SECRET: Text | None = setting(
        None, "signing secret of the webhook endpoint `/billing/webhook`; required with a Stripe key", secret=True,
        shown="development: derived from `SECRET_KEY`")
    STRIPE_WEBHOOK_TOLERANCE_SECONDS: int = setting(
        300, "how far from now (past or future) an event's signature time may be", ge=1)
    CHECKOUT_EXPIRY_MINUTES: int = setting(
        60, "how long a checkout session takes payment (Stripe allows 30 to 1440); `flask orders expire` then marks "
        "the still-pending order cancelled, as Stripe's `checkout.session.expired` event does. A payment Stripe "
        "reports later is credited all the same. Buyers using the site in Chinese are offered Alipay and WeChat "
        "Pay beside cards (enable both in the Stripe Dashboard); others get what the account enables", ge=30, le=1440)
    ORDER_RETENTION_YEARS: int = setting(10, "orders are kept this long (tax law), also after the account is erased",
                                         ge=1)
    SELLER_NAME: Text | None = setting(
        None, "the seller's legal name on every invoice and credit note; required in production (a sandbox and "
        "development show a marked demo seller)")
    SELLER_ADDRESS: Text | None = setting(None, "the seller's postal address (`\\n` between lines); required in "
                                          "production")
    SELLER_TAX_ID: Text | None = setting(None, "the seller's VAT id; required in production")
    SELLER_COUNTRY: CountryCode = setting(
        "DE", "the seller's country (ISO code), printed once on invoices: a buyer's country is asked before checkout "
        "(one that is unknown pays no VAT, never the seller's), and the EU reverse charge applies to businesses of "
        "other member states")
    TAX_RATES: TaxRates = setting(
        DEFAULT_TAX_RATES, "tax rates by buyer country, in percent; added to the pack's price as its own Checkout "
        "line and shown on the invoice. A country not listed is charged none (the invoice says so); a business "
        "with a valid VAT number of another EU state gets 0 % with the reverse-charge wording. Tax ids are checked "
        "by python-stdnum (EU and UK VAT, China's unified social credit code)",
        shown="VAT of 14 EU states and the UK (the test suite: none)")
