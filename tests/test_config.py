"""Configuration: environments, production safety checks, .env files."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from app import create_app
from app.config import ConfigError, load_config, normalise_database_url

ROOT = Path(__file__).resolve().parent.parent

KEY_NEW, KEY_OLD = Fernet.generate_key().decode(), Fernet.generate_key().decode()
PRODUCTION_ENV = {
    "SECRET_KEY": "kV3q9-LfTz0aW7nR2yHcXb5uJm8sPd4e_GiQo1Nt6Zw",
    "DATABASE_URL": "postgresql://app@db.internal/twtapi",
    "DATA_ENCRYPTION_KEYS": f"{KEY_NEW}, {KEY_OLD}",
    "REDIS_URL": "redis://cache.internal:6379/0",
    "MAIL_URL": "smtp+starttls://relay.internal:587",
    "STRIPE_SECRET_KEY": "sk_live_x",
    "STRIPE_WEBHOOK_SECRET": "whsec_x",
    "UPSTREAM_API_URL": "https://data.internal/v1",
    "SELLER_NAME": "TwtAPI Ltd.",
    "SELLER_ADDRESS": "1 Example Street\\n10115 Berlin\\nGermany",
    "SELLER_TAX_ID": "DE136695976",
    "SITE_URL": "https://twtapi.example",
}
DEMO_PARTS = ("STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET", "UPSTREAM_API_URL", "SELLER_NAME", "SELLER_ADDRESS",
              "SELLER_TAX_ID")


@pytest.mark.parametrize("missing", sorted(PRODUCTION_ENV))
def test_production_refuses_to_start_naming_the_missing_setting(missing):
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != missing}
    with pytest.raises(ConfigError) as info:
        load_config("production", env)
    message = str(info.value)
    assert missing in message
    assert "\n" not in message


def test_production_names_every_missing_setting_at_once():
    with pytest.raises(ConfigError) as info:
        load_config("production", {})
    assert ("SECRET_KEY, DATABASE_URL, DATA_ENCRYPTION_KEYS, REDIS_URL, MAIL_URL, STRIPE_SECRET_KEY, "
            "STRIPE_WEBHOOK_SECRET, UPSTREAM_API_URL, SELLER_NAME, SELLER_ADDRESS, SELLER_TAX_ID") in str(info.value)


def test_production_refuses_a_mail_url_that_is_not_smtp():
    with pytest.raises(ConfigError, match="MAIL_URL must be an smtp"):
        load_config("production", {**PRODUCTION_ENV, "MAIL_URL": "file:///var/mail"})


def test_production_never_writes_mail_to_files_or_counts_limits_in_memory():
    cfg = load_config("production", PRODUCTION_ENV)
    assert cfg.MAIL_DIR is None
    assert cfg.RATELIMIT_STORAGE_URI == PRODUCTION_ENV["REDIS_URL"]
    assert cfg.DEMO_PARTS is False


def test_demo_mode_allows_a_sandbox_without_stripe_or_upstream_but_not_without_redis_or_mail():
    env = {k: v for k, v in PRODUCTION_ENV.items() if k not in DEMO_PARTS}
    cfg = load_config("production", {**env, "DEMO_MODE": "1"})
    assert cfg.DEMO_MODE is True and cfg.DEMO_PARTS is True
    for needed in ("REDIS_URL", "MAIL_URL"):
        with pytest.raises(ConfigError, match=needed):
            load_config("production", {**{k: v for k, v in env.items() if k != needed}, "DEMO_MODE": "1"})


def test_demo_mode_with_a_stripe_key_still_needs_the_webhook_secret():
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "STRIPE_WEBHOOK_SECRET"}
    with pytest.raises(ConfigError, match="STRIPE_WEBHOOK_SECRET"):
        load_config("production", {**env, "DEMO_MODE": "1"})


@pytest.fixture
def production_app(database_url):
    """Build production apps on the test database; their connections are closed afterwards."""
    from app.extensions import db

    apps = []

    def build(**env):
        cfg = load_config("production", {**PRODUCTION_ENV, **env})
        app = create_app(cfg, {"SQLALCHEMY_DATABASE_URI": database_url, "SESSION_COOKIE_SECURE": False,
                               "PROXY_HOPS": 0, "PREFERRED_URL_SCHEME": "http", "API_METERING": "database",
                               "REDIS_URL": None, "RATELIMIT_STORAGE_URI": "memory://"})
        apps.append(app)
        return app

    yield build
    for app in apps:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def test_production_has_no_demo_checkout_route_and_pays_through_stripe(production_app):
    app = production_app()
    assert not [rule for rule in app.url_map.iter_rules() if "/billing/demo" in rule.rule]
    assert app.extensions["payment_gateway"].name == "stripe"
    response = app.test_client().get("/billing/demo/cs_demo_anything")
    assert response.status_code == 404
    assert "demo site" not in app.test_client().get("/").get_data(as_text=True)


def test_a_sandbox_says_it_is_a_demo_on_every_page_and_in_healthz(production_app):
    env = {name: "" for name in DEMO_PARTS}
    app = production_app(DEMO_MODE="1", **env)
    client = app.test_client()
    assert app.extensions["payment_gateway"].name == "demo"
    assert [rule for rule in app.url_map.iter_rules() if rule.rule == "/billing/demo/<session_id>"]
    for page in ("/", "/pricing", "/login", "/register", "/contact", "/privacy", "/docs/api"):
        assert "This is a demo site" in client.get(page).get_data(as_text=True), page
    assert client.get("/healthz").get_json()["demo_mode"] is True


def test_production_refuses_sqlite_in_tmp():
    env = {**PRODUCTION_ENV, "DATABASE_URL": "sqlite:////tmp/twtapi.sqlite"}
    with pytest.raises(ConfigError, match="PostgreSQL"):
        load_config("production", env)


def test_production_refuses_short_secret_key():
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        load_config("production", {**PRODUCTION_ENV, "SECRET_KEY": "short"})


@pytest.mark.parametrize(("setting", "value"), [
    ("SECRET_KEY", "a" * 36),  # long enough, one character
    ("SECRET_KEY", "ab" * 24),  # two characters
    ("SECRET_KEY", "0123456789abcdef0123456789abcde"),  # 31 bytes
    ("SECRET_KEY", "é" * 10 + "kV3q9-Lf"),  # 18 characters, 28 bytes
    ("SESSION_COOKIE_SECURE", "0"),
    ("SESSION_COOKIE_SECURE", "false"),
    ("MAIL_DELIVERY", "inline"),
    ("MAIL_DELIVERY", "later"),
    ("REDIS_URL", "memory://"),
    ("REDIS_URL", "localhost:6379"),
    ("SITE_URL", "http://twtapi.example"),  # the default, http://127.0.0.1:5000, is refused the same way
])
def test_production_refuses_an_unsafe_setting_with_one_line_naming_it(tmp_path, setting, value):
    with pytest.raises(ConfigError, match=setting) as info:
        load_config("production", {**PRODUCTION_ENV, setting: value})
    assert "\n" not in str(info.value)
    assert setting != "SECRET_KEY" or value not in str(info.value)  # a refused key is not written to the logs
    result = _run_wsgi({"APP_ENV": "production", **PRODUCTION_ENV, setting: value}, tmp_path)
    assert result.returncode == 1
    [line] = [line for line in result.stderr.splitlines() if line.strip()]
    assert line.startswith("TwtAPI cannot start: ") and setting in line


@pytest.mark.parametrize("key", ["0123456789abcdef0123456789abcdef", "kV3q9-LfTz0aW7nR2yHcXb5uJm8sPd4e"])
def test_production_takes_a_random_secret_key_of_32_characters(key):
    assert load_config("production", {**PRODUCTION_ENV, "SECRET_KEY": key}).SECRET_KEY == key


@pytest.mark.parametrize("delivery", ["queue", "background"])
def test_production_delivers_mail_from_the_queue_or_a_background_sender(delivery):
    assert load_config("production", {**PRODUCTION_ENV, "MAIL_DELIVERY": delivery}).MAIL_DELIVERY == delivery


def test_a_redis_url_that_is_not_redis_is_refused_in_development_too():
    with pytest.raises(ConfigError, match="REDIS_URL"):
        load_config("development", {"REDIS_URL": "memory://"})
    for url in ("redis://127.0.0.1:6379/3", "rediss://cache:6380/0", "unix:///run/redis.sock", "redis+cluster://a:1"):
        assert load_config("development", {"REDIS_URL": url}).REDIS_URL == url


def test_production_defaults_are_secure():
    cfg = load_config("production", PRODUCTION_ENV)
    assert cfg.SESSION_COOKIE_SECURE is True
    assert cfg.SESSION_COOKIE_HTTPONLY is True
    assert cfg.SESSION_COOKIE_SAMESITE == "Lax"
    assert cfg.PROXY_HOPS == 1
    assert cfg.PREFERRED_URL_SCHEME == "https"
    assert cfg.SQLALCHEMY_DATABASE_URI.startswith("postgresql+psycopg://")
    assert cfg.DATA_ENCRYPTION_KEYS == [KEY_NEW, KEY_OLD]


def test_production_leaves_call_records_to_the_flusher_service_and_sizes_groups_for_a_cluster():
    cfg = load_config("production", PRODUCTION_ENV)
    assert (cfg.METERING_FLUSH, cfg.METERING_SHARDS) == ("external", 1)
    assert load_config("production", {**PRODUCTION_ENV, "METERING_FLUSH": "background"}).METERING_FLUSH == "background"
    cluster = load_config("production", {**PRODUCTION_ENV, "REDIS_URL": "redis+cluster://a:6379,b:6379"})
    assert cluster.METERING_SHARDS == 16
    with pytest.raises(ConfigError, match="METERING_SHARDS must be between 1 and 1024"):
        load_config("production", {**PRODUCTION_ENV, "METERING_SHARDS": "0"})


def test_low_balance_thresholds_are_checked_at_start():
    assert load_config("production", PRODUCTION_ENV).LOW_CREDIT_THRESHOLDS == "25%,10%,5%"
    assert load_config("production", {**PRODUCTION_ENV, "LOW_CREDIT_THRESHOLDS": "500, 10%"}).LOW_CREDIT_THRESHOLDS
    for bad in ("lots", "25%%", "1,2,3,4,5,6", "-5"):
        with pytest.raises(ConfigError, match="LOW_CREDIT_THRESHOLDS must be up to five"):
            load_config("production", {**PRODUCTION_ENV, "LOW_CREDIT_THRESHOLDS": bad})


def test_production_refuses_keys_that_are_not_fernet_keys():
    with pytest.raises(ConfigError, match="flask crypto generate-key"):
        load_config("production", {**PRODUCTION_ENV, "DATA_ENCRYPTION_KEYS": "not-a-key"})


def test_development_works_with_no_environment_at_all():
    cfg = load_config("development", {})
    assert cfg.SECRET_KEY
    assert cfg.SQLALCHEMY_DATABASE_URI.startswith("sqlite:///")
    assert cfg.SQLALCHEMY_DATABASE_URI.endswith("instance/twtapi.sqlite")
    assert cfg.RATELIMIT_STORAGE_URI == "memory://"
    assert cfg.SESSION_COOKIE_SECURE is False


def test_redis_url_becomes_the_rate_limit_storage():
    cfg = load_config("development", {"REDIS_URL": "redis://127.0.0.1:6379/3"})
    assert cfg.RATELIMIT_STORAGE_URI == "redis://127.0.0.1:6379/3"


def test_unknown_environment_name_is_a_clear_error():
    with pytest.raises(ConfigError, match="APP_ENV must be one of"):
        load_config("staging", {})


def test_bad_number_is_a_clear_error():
    with pytest.raises(ConfigError, match="PROXY_HOPS must be a whole number"):
        load_config("development", {"PROXY_HOPS": "two"})


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgresql://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
        ("sqlite:///x.db", "sqlite:///x.db"),
    ],
)
def test_database_urls_use_psycopg3(given, expected):
    assert normalise_database_url(given) == expected


def test_create_app_accepts_a_config_instance():
    cfg = load_config("production", PRODUCTION_ENV)
    app = create_app(cfg)
    assert app.config["ENV_NAME"] == "production"
    assert app.config["SESSION_COOKIE_SECURE"] is True


def _run_wsgi(env: dict, cwd: Path) -> subprocess.CompletedProcess:
    unset = set(PRODUCTION_ENV) | {"DEMO_MODE"}
    clean = {k: v for k, v in os.environ.items() if k not in unset}
    return subprocess.run(
        [sys.executable, "-c", f"import sys; sys.path.insert(0, {str(ROOT)!r}); import wsgi"],
        env={**clean, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_wsgi_prints_one_clear_line_when_production_is_misconfigured(tmp_path):
    result = _run_wsgi({"APP_ENV": "production", "SECRET_KEY": "x" * 40}, tmp_path)
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines == [
        "TwtAPI cannot start: Production configuration is incomplete: set DATABASE_URL, "
        "DATA_ENCRYPTION_KEYS, REDIS_URL, MAIL_URL, STRIPE_SECRET_KEY, STRIPE_WEBHOOK_SECRET, "
        "UPSTREAM_API_URL, SELLER_NAME, SELLER_ADDRESS, SELLER_TAX_ID (see docs/configuration.md)."
    ]


def test_wsgi_refuses_production_with_only_the_first_three_settings(tmp_path):
    """The review's finding: these three alone used to start with the demo checkout live."""
    base = {name: PRODUCTION_ENV[name] for name in ("SECRET_KEY", "DATABASE_URL", "DATA_ENCRYPTION_KEYS")}
    result = _run_wsgi({"APP_ENV": "production", **base}, tmp_path)
    assert result.returncode == 1
    [line] = [line for line in result.stderr.splitlines() if line.strip()]
    assert "STRIPE_SECRET_KEY" in line and "UPSTREAM_API_URL" in line and "REDIS_URL" in line


def test_dotenv_file_is_read_without_overriding_the_environment(tmp_path, monkeypatch):
    """A .env beside the project supplies settings; real environment variables win."""
    env_file = ROOT / ".env"
    if env_file.exists():
        pytest.skip("a developer's own .env exists; not overwriting it")
    env_file.write_text("SITE_NAME=FromDotEnv\nSUPPORT_EMAIL=dotenv@example.com\n")
    try:
        monkeypatch.delenv("SITE_NAME", raising=False)
        monkeypatch.setenv("SUPPORT_EMAIL", "env@example.com")
        cfg = load_config("development")
        assert cfg.SITE_NAME == "FromDotEnv"
        assert cfg.SUPPORT_EMAIL == "env@example.com"
    finally:
        env_file.unlink()
        os.environ.pop("SITE_NAME", None)


def test_production_names_the_session_cookie_with_the_host_prefix(database_url):
    """ASVS 5.0 3.3.1: ``__Host-session``, Secure, Path=/ and no Domain, so browsers refuse any
    copy set by a subdomain or over plain http; the cookie page names it as the browser sees it."""
    cfg = load_config("production", PRODUCTION_ENV)
    app = create_app(cfg, {"SQLALCHEMY_DATABASE_URI": database_url, "API_METERING": "database", "REDIS_URL": None,
                           "RATELIMIT_STORAGE_URI": "memory://"})
    interface = app.session_interface
    assert interface.get_cookie_name(app) == "__Host-session"
    assert (interface.get_cookie_secure(app), interface.get_cookie_path(app), interface.get_cookie_domain(app)) == (
        True, "/", None)
    page = app.test_client().get("/cookies", base_url="https://twtapi.example").get_data(as_text=True)
    assert "<code>__Host-session</code>" in page
    from app.extensions import db

    with app.app_context():
        db.engine.dispose()


@pytest.mark.parametrize(("env", "line"), [
    ({"APP_ENV": "production", **PRODUCTION_ENV, "UPSTREAM_TIMEOUT_SECONDS": "ten"},
     "TwtAPI cannot start: UPSTREAM_TIMEOUT_SECONDS must be a number above 0, got 'ten'."),
    ({"APP_ENV": "production", **PRODUCTION_ENV, "METERING_FLUSH": "sometimes"},
     "TwtAPI cannot start: METERING_FLUSH must be background, external or inline, got 'sometimes'."),
    ({"METERING_FLUSH": "sometimes"},
     "TwtAPI cannot start: METERING_FLUSH must be background, external or inline, got 'sometimes'."),
])
def test_wsgi_stops_on_a_bad_value_with_one_line_naming_the_setting_the_value_and_what_is_allowed(tmp_path, env, line):
    """The issue's two typos: a timeout of "ten" used to stop with a traceback, and
    METERING_FLUSH=sometimes used to start with nobody writing the Redis meter's calls."""
    result = _run_wsgi(env, tmp_path)
    assert result.returncode == 1
    assert [line for line in result.stderr.splitlines() if line.strip()] == [line]


@pytest.mark.parametrize(("setting", "value", "allowed"), [
    ("PROXY_HOPS", "-1", "a whole number, 0 or more"),
    ("MAX_CONTENT_LENGTH", "1MB", "a whole number, 1 or more"),
    ("KEY_CACHE_SECONDS", "inf", "a number, 0 or more"),
    ("CHECKOUT_EXPIRY_MINUTES", "20", "between 30 and 1440"),
    ("DEMO_MODE", "maybe", "on or off (1, true, yes, on / 0, false, no, off)"),
    ("SESSION_COOKIE_SECURE", "sometimes", "on or off (1, true, yes, on / 0, false, no, off)"),
    ("MAIL_DELIVERY", "later", "queue, background or inline"),
    ("API_METERING", "memcached", "database or redis, or unset"),
    ("LOG_LEVEL", "verbose", "DEBUG, INFO, WARNING, ERROR or CRITICAL"),
    ("REGISTER_RATE_LIMIT", "lots", "limits like 10 per hour or 5/minute;100/day"),
    ("CONTACT_RATE_LIMIT_IP", "5 per fortnight", "limits like 10 per hour or 5/minute;100/day"),
    ("SITE_URL", "twtapi.example", "an http:// or https:// address"),
    ("SELLER_COUNTRY", "Germany", "a two-letter country code"),
    ("TAX_RATES", "DE=19", "rates by country in percent like DE:19,FR:20,FI:25.5, or empty for none"),
    ("CALL_LOG_DAYS", "ninety", "a whole number, 0 or more"),
])
def test_a_value_that_is_not_allowed_is_refused_in_every_environment_with_one_line(setting, value, allowed):
    for name in ("development", "production"):
        env = {**PRODUCTION_ENV, setting: value} if name == "production" else {setting: value}
        with pytest.raises(ConfigError) as info:
            load_config(name, env)
        assert str(info.value) == f"{setting} must be {allowed}, got {value!r}."


def test_every_bad_value_is_named_in_the_one_line():
    with pytest.raises(ConfigError) as info:
        load_config("development", {"UPSTREAM_TIMEOUT_SECONDS": "ten", "METERING_FLUSH": "sometimes", "MIN_AGE": "x"})
    assert str(info.value) == ("MIN_AGE must be between 0 and 120, got 'x'; UPSTREAM_TIMEOUT_SECONDS must be a number "
                               "above 0, got 'ten'; METERING_FLUSH must be background, external or inline, got "
                               "'sometimes'.")


@pytest.mark.parametrize(("setting", "value"), [
    ("DATA_ENCRYPTION_KEYS", "hunter2-is-not-a-fernet-key"),
    ("REDIS_URL", "memory://admin:hunter2@cache.internal"),
    ("REDIS_URL", "admin:hunter2@cache.internal:6379"),
    ("MAIL_URL", "file://postmaster:hunter2@relay.internal"),
])
def test_a_refused_value_never_prints_a_secret_or_a_password(tmp_path, setting, value):
    with pytest.raises(ConfigError, match=setting) as info:
        load_config("development", {setting: value})
    assert "hunter2" not in str(info.value)
    result = _run_wsgi({"APP_ENV": "production", **PRODUCTION_ENV, setting: value}, tmp_path)
    assert result.returncode == 1
    [line] = [line for line in result.stderr.splitlines() if line.strip()]
    assert line.startswith(f"TwtAPI cannot start: {setting} must be ") and "hunter2" not in line


def test_api_metering_on_redis_needs_redis_url_said_in_one_line():
    with pytest.raises(ConfigError, match="API_METERING=redis needs REDIS_URL"):
        load_config("development", {"API_METERING": "redis"})


def test_an_empty_variable_is_unset_except_where_empty_text_means_something():
    cfg = load_config("production", {**PRODUCTION_ENV, "PROXY_HOPS": "", "SESSION_COOKIE_SECURE": " ",
                                     "UPSTREAM_TIMEOUT_SECONDS": "", "METERING_FLUSH": "", "LOG_LEVEL": "",
                                     "TAX_RATES": "", "LOW_CREDIT_THRESHOLDS": "", "COOKIE_POLICY_CHANGES": ""})
    assert (cfg.PROXY_HOPS, cfg.SESSION_COOKIE_SECURE, cfg.UPSTREAM_TIMEOUT_SECONDS) == (1, True, 10.0)
    assert (cfg.METERING_FLUSH, cfg.LOG_LEVEL) == ("external", "INFO")
    assert (cfg.TAX_RATES, cfg.LOW_CREDIT_THRESHOLDS, cfg.COOKIE_POLICY_CHANGES) == ("", "", "")
    assert load_config("development", {"SECRET_KEY": ""}).SECRET_KEY == "development-only-not-secret"


@pytest.mark.parametrize(("value", "expected"), [("1", True), ("yes", True), (" On ", True), ("TRUE", True),
                                                 ("0", False), ("off", False), ("False", False), ("no", False)])
def test_switches_take_the_usual_words_in_any_case(value, expected):
    assert load_config("development", {"DEMO_MODE": value}).DEMO_MODE is expected


def test_settings_are_typed_and_the_environments_keep_their_defaults():
    development, production = load_config("development", {}), load_config("production", PRODUCTION_ENV)
    assert (development.UPSTREAM_TIMEOUT_SECONDS, development.METERING_FLUSH_INTERVAL_SECONDS) == (10.0, 0.2)
    assert (development.MAIL_DELIVERY, production.MAIL_DELIVERY, load_config("testing", {}).MAIL_DELIVERY) == (
        "background", "queue", "inline")
    assert (development.METERING_FLUSH, production.METERING_FLUSH) == ("background", "external")
    assert (development.PROXY_HOPS, production.PROXY_HOPS) == (0, 1)
    assert load_config("development", {"LOG_LEVEL": "warning", "CALL_LOG_DAYS": "45"}).LOG_LEVEL == "WARNING"
    assert load_config("development", {"CALL_LOG_DAYS": "45"}).CALL_LOG_DAYS == 45


def test_docs_configuration_md_has_the_settings_tables_of_the_model():
    """``python -m app.config.reference`` rewrites them; every setting is in them once."""
    from app.config import reference
    from app.config.model import Settings

    doc = (ROOT / "docs/configuration.md").read_text(encoding="utf-8")
    assert reference.in_doc(doc) == reference.tables()
    rows = [line.split(" | ")[0] for line in reference.in_doc(doc).splitlines() if line.startswith("| `")]
    assert rows == [f"| `{name}`" for name in Settings.model_fields]


def test_show_config_lists_every_setting_of_the_model_and_never_a_secret(make_app):
    from app.config.model import Settings

    key = Fernet.generate_key().decode()
    app = make_app(STRIPE_SECRET_KEY="sk_live_hunter2", STRIPE_WEBHOOK_SECRET="whsec_hunter2",
                   DATA_ENCRYPTION_KEYS=[key], MAIL_URL="smtp+starttls://mailer:hunter2@relay.internal:587",
                   REDIS_URL=None, RATELIMIT_STORAGE_URI="memory://", UPSTREAM_TIMEOUT_SECONDS=2.5)
    output = app.test_cli_runner().invoke(args=["show-config"]).output
    listed = dict(line.split(None, 1) for line in output.split("settings (docs/configuration.md):\n")[1].splitlines())
    assert list(listed) == list(Settings.model_fields)
    assert "hunter2" not in output and key not in output and "testing-only-not-secret" not in output
    assert listed["STRIPE_SECRET_KEY"] == listed["DATA_ENCRYPTION_KEYS"] == "set (not shown)"
    assert listed["MAIL_URL"] == "smtp+starttls://mailer:***@relay.internal:587"
    assert (listed["UPSTREAM_TIMEOUT_SECONDS"], listed["REDIS_URL"], listed["DEMO_MODE"]) == ("2.5", "unset", "off")
