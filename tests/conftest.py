"""Shared fixtures: ``app``, ``client``, ``db``, ``runner`` and database factories.

The suite runs on SQLite by default. With ``TEST_DATABASE_URL`` set (CI sets it), it runs on
PostgreSQL instead: every test session creates its own database there, migrates it, and drops
it at the end, so runs never see each other's rows. Every test starts from empty tables.
"""

from __future__ import annotations

import os
import re
import socket
import uuid
from collections.abc import Callable, Iterator
from email import message_from_bytes
from email import policy as email_policy
from email.message import EmailMessage

import pytest
from flask_migrate import upgrade
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

from app import create_app
from app.auth.models import User
from app.config import normalise_database_url
from app.crypto import development_key
from app.extensions import db as _db
from app.extensions import limiter
from tests.server import RedisServer, gunicorn

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")
KEPT_TABLES = {"policy_versions"}  # published documents: reference data, loaded once per session
REDIS_URL = os.environ.get("REDIS_URL")


def _admin_connect(url):
    import psycopg

    return psycopg.connect(
        host=url.host or "127.0.0.1",
        port=url.port or 5432,
        user=url.username,
        password=url.password,
        dbname=url.database,
        autocommit=True,
    )


class DatabaseFactory:
    """Creates throw-away databases: SQLite files, or PostgreSQL databases it later drops."""

    def __init__(self, tmp_path_factory):
        self._tmp = tmp_path_factory
        self._created: list[str] = []
        self.base = make_url(normalise_database_url(TEST_DATABASE_URL)) if TEST_DATABASE_URL else None

    @property
    def backend(self) -> str:
        return "postgresql" if self.base else "sqlite"

    def new(self) -> str:
        if self.base is None:
            path = self._tmp.mktemp("db") / "test.sqlite"
            return f"sqlite:///{path}"
        name = f"twtapi_test_{uuid.uuid4().hex[:12]}"
        with _admin_connect(self.base) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        self._created.append(name)
        return self.base.set(database=name).render_as_string(hide_password=False)

    def admin(self):
        """An autocommit connection to the PostgreSQL server (PostgreSQL runs only)."""
        return _admin_connect(self.base)

    def drop_all(self) -> None:
        if self.base is None:
            return
        with _admin_connect(self.base) as conn:
            for name in self._created:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def database_factory(tmp_path_factory) -> Iterator[DatabaseFactory]:
    factory = DatabaseFactory(tmp_path_factory)
    yield factory
    factory.drop_all()


@pytest.fixture(scope="session")
def database_url(database_factory) -> str:
    """One migrated database for the whole session."""
    url = database_factory.new()
    app = create_app("testing", _overrides(url))
    with app.app_context():
        upgrade()
        from app.legal.services import publish

        publish()  # the legal documents are reference data every test may show
        _db.session.commit()
        _db.engine.dispose()
    return url


def _overrides(url: str) -> dict:
    overrides = {"SQLALCHEMY_DATABASE_URI": url, "SERVER_NAME": None, "MAIL_URL": _smtp_url}
    if REDIS_URL:
        overrides.update(
            REDIS_URL=REDIS_URL,
            RATELIMIT_STORAGE_URI=REDIS_URL,
            RATELIMIT_KEY_PREFIX=f"twtapi-test-{uuid.uuid4().hex[:8]}",
        )
    return overrides


@pytest.fixture(scope="session")
def _session_engine(database_url):
    engine = create_engine(database_url)
    yield engine
    engine.dispose()


class SMTPRecorder:
    """aiosmtpd handler keeping every message it receives."""

    def __init__(self):
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        message = message_from_bytes(envelope.content, policy=email_policy.default)
        message["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
        self.messages.append(message)
        return "250 OK"


_smtp_url: str | None = None


@pytest.fixture(scope="session")
def smtp_server():
    """A real SMTP server on 127.0.0.1 (aiosmtpd) that every test app sends mail to."""
    global _smtp_url
    from aiosmtpd.controller import Controller

    recorder = SMTPRecorder()
    controller = Controller(recorder, hostname="127.0.0.1", port=_free_port())
    controller.start()
    _smtp_url = f"smtp://127.0.0.1:{controller.port}"
    yield controller, recorder
    controller.stop()
    _smtp_url = None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def outbox(smtp_server) -> list[EmailMessage]:
    """The messages delivered to the SMTP server during this test."""
    _, recorder = smtp_server
    recorder.messages.clear()
    return recorder.messages


@pytest.fixture
def make_app(database_url, _session_engine, smtp_server) -> Iterator[Callable[..., object]]:
    """Build an application on the session database, with settings overridden per test.

    After the test, its connections are closed and the rate-limit counters are reset.
    """
    apps = []

    def factory(**overrides):
        app = create_app("testing", {**_overrides(database_url), **overrides})
        apps.append(app)
        return app

    yield factory
    for app in apps:
        app.extensions["twtapi_meter"].close(forget=True)
        if "twtapi_redis" in app.extensions:
            app.extensions["twtapi_redis"].close()
        if "twtapi_mail_sender" in app.extensions:  # a development mail thread ends with its test
            app.extensions["twtapi_mail_sender"]["stop"].set()
        with app.app_context():
            _db.session.remove()
            _db.engine.dispose()
    if apps:
        import redis

        try:
            limiter.reset()
        except redis.RedisError:
            pass  # an outage test's own Redis is already stopped: nothing left to reset


@pytest.fixture(autouse=True)
def _empty_tables_after_each_test(_session_engine):
    """Every test starts from empty tables, whatever wrote to them (an app, gunicorn, a CLI)."""
    yield
    with _session_engine.begin() as conn:
        for table in reversed(_db.metadata.sorted_tables):
            if table.name not in KEPT_TABLES:
                conn.execute(table.delete())


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def db(app) -> Iterator[object]:
    """The SQLAlchemy handle, inside an application context."""
    with app.app_context():
        yield _db
        _db.session.remove()


def pytest_report_header(config):
    database = "PostgreSQL (TEST_DATABASE_URL, a fresh database per run)" if TEST_DATABASE_URL else "SQLite"
    limits = "Redis (REDIS_URL)" if REDIS_URL else "memory"
    return [f"database: {database}; rate-limit storage: {limits}"]


# --- helpers that act as a visitor's browser ----------------------------------------------------

SAME_ORIGIN = {"Origin": "http://localhost"}


def form_token(html: str) -> str:
    """The CSRF token of the first form on a page."""
    match = re.search(r'name="(?:[\w-]+-)?csrf_token"[^>]*value="([^"]+)"', html)
    assert match, "no csrf_token on the page"
    return match.group(1)


def submit(client, page: str, data: dict, action: str | None = None, prefix: str = "", **kwargs):
    """Open ``page`` and post ``data`` with that page's CSRF token, as a browser would."""
    token = form_token(client.get(page).get_data(as_text=True))
    key = f"{prefix}-csrf_token" if prefix else "csrf_token"
    headers = {**SAME_ORIGIN, **kwargs.pop("headers", {})}
    return client.post(action or page, data={key: token, **data}, headers=headers, **kwargs)


def link_in(message: EmailMessage, path: str) -> str:
    """The path of the first link to ``path`` in an e-mail's text part."""
    text = message.get_body(("plain",)).get_content()
    match = re.search(r"https?://[^/\s]+(" + re.escape(path) + r"[^\s]*)", text)
    assert match, f"no {path} link in the message"
    return match.group(1)


PASSWORD_FOR_TESTS = "correct horse battery staple"


class AuthActions:
    """Register, verify, sign in and out through the real pages."""

    PASSWORD = PASSWORD_FOR_TESTS

    def __init__(self, client, outbox):
        self.client = client
        self.outbox = outbox

    def register(self, email="alice@example.com", password=PASSWORD, nickname="Alice", verify=True):
        response = submit(self.client, "/register", {
            "email": email, "password": password, "nickname": nickname, "age_confirmed": "y"})
        assert response.status_code == 200
        if verify:
            message = next(m for m in reversed(self.outbox) if m["To"] == email.lower())
            self.client.get(link_in(message, "/verify-email/"))
        return response

    def login(self, email="alice@example.com", password=PASSWORD, remember=False, **kwargs):
        data = {"email": email, "password": password}
        if remember:
            data["remember"] = "y"
        return submit(self.client, "/login", data, **kwargs)

    def logout(self):
        return submit(self.client, "/account", {}, action="/logout")


@pytest.fixture
def auth(client, outbox) -> AuthActions:
    return AuthActions(client, outbox)


def totp_now(secret: str, offset_steps: int = 0) -> str:
    """The code an authenticator app would show (``offset_steps`` 30-second steps away)."""
    import time

    import pyotp

    return pyotp.TOTP(secret).at(time.time() + 30 * offset_steps)


def turn_on_2fa(client) -> tuple[str, list[str]]:
    """Turn on 2FA through the pages for the signed-in user; return (secret, recovery codes)."""
    page = client.get("/account/security/2fa").get_data(as_text=True)
    secret = re.search(r'<code class="secret">([A-Z2-7]+)</code>', page).group(1)
    response = submit(client, "/account/security/2fa", {"code": totp_now(secret)},
                      action="/account/security/2fa/enable")
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    codes = re.findall(r"<li><code>([a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4})</code></li>",
                       response.get_data(as_text=True))
    assert len(codes) == 10
    return secret, codes


def charge_call(user_id: int, price: int, request_id: str, endpoint: str = "/api/v1/users/{username}") -> int:
    """Charge one call through metering's write path, as the database meter does (no key: the
    call log then counts it under no key); the balance left. Inside an app context; no commit."""
    from app.metering.types import CallRecord
    from app.metering.write import write_records
    from app.timeutil import utcnow

    record = CallRecord(request_id, "GET", endpoint, None, utcnow(), 1)
    return write_records(_db.session.connection(), [record.row(user_id, None, 200, price)], strict=True,
                         fresh=True)[user_id]


def make_customer(app, email="alice@example.com", credits=1000, rate_limit=None):
    """A verified customer with ``credits`` and one API key, made through the services.

    Returns (user_id, secret). For tests of the gateway, where the pages are not the subject.
    """
    from app.auth.passwords import hash_password
    from app.billing.services import add_credits
    from app.keys.services import create_key
    from app.timeutil import utcnow

    with app.test_request_context():
        now = utcnow()
        user = User(email=email, password_hash=hash_password(PASSWORD_FOR_TESTS), created_at=now,
                    email_verified_at=now, age_confirmed_at=now, password_changed_at=now,
                    accepted_privacy_version="v", accepted_terms_version="v")
        _db.session.add(user)
        _db.session.flush()
        if credits:
            add_credits(user, credits, "purchase", now)
        _key, secret = create_key(user, "test key", rate_limit, 10, app.config, now)
        _db.session.commit()
        return user.id, secret


@pytest.fixture
def redis_url() -> str:
    """A Redis to share between processes: REDIS_URL, or the one CI runs on 127.0.0.1 (skip if none)."""
    import redis

    url = REDIS_URL or "redis://127.0.0.1:6379/14"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.exceptions.RedisError:
        pytest.skip(f"no Redis at {url}: this check needs a shared store (CI runs it with REDIS_URL)")
    return url


@pytest.fixture
def redis_app(make_app, redis_url):
    """Build an application metering API calls in Redis (API_METERING=redis), each with its own
    key prefix unless given one (two apps with one prefix are two processes sharing Redis)."""

    def factory(prefix=None, **overrides):
        prefix = prefix or f"meter-test-{uuid.uuid4().hex[:8]}"
        return make_app(REDIS_URL=redis_url, RATELIMIT_STORAGE_URI=redis_url, RATELIMIT_KEY_PREFIX=prefix,
                        API_METERING="redis", **overrides)

    return factory


def bearer(secret: str) -> dict:
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def serve(database_url, smtp_server, tmp_path):
    """Start the real app under gunicorn on the session database: ``serve(workers, threads, **env)``
    returns its base URL; every server started is stopped after the test."""
    from contextlib import ExitStack

    stack = ExitStack()

    def start(workers: int = 2, threads: int = 8, **env) -> str:
        base = {
            "APP_ENV": "development",
            "DATABASE_URL": database_url,
            "SECRET_KEY": "served-tests-only-" + "x" * 24,
            # The test apps' field-encryption key, so both read what the other wrote.
            "DATA_ENCRYPTION_KEYS": development_key("testing-only-not-secret"),
            "MAIL_URL": f"smtp://127.0.0.1:{smtp_server[0].port}",
            "RATELIMIT_KEY_PREFIX": f"twtapi-served-{uuid.uuid4().hex[:8]}",
            "LOG_LEVEL": "WARNING",
            "MAIL_DELIVERY": "inline",  # the test reads mail right after a request, as elsewhere
        }
        merged = {**base, **{k: str(v) for k, v in env.items() if v is not None}}
        log = tmp_path / f"gunicorn-{len(stack._exit_callbacks)}.log"
        return stack.enter_context(gunicorn(merged, log, workers=workers, threads=threads))

    yield start
    stack.close()


@pytest.fixture
def own_redis(tmp_path) -> Iterator[RedisServer]:
    """A redis-server of this test's own on a free port, which the test may stop and start."""
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()
