"""The gateway metered in Redis (API_METERING=redis), as a client, a second process and staff see it.

These run against a real Redis (REDIS_URL, or the one on 127.0.0.1 in CI) and the test database.
"""

import socket
import threading
import uuid
from datetime import timedelta

import pytest
import redis
from sqlalchemy import func, select

from app.auth.models import User
from app.billing import services as billing
from app.billing.models import CreditEntry
from app.extensions import db as _db
from app.keys import services as keys
from app.keys.models import ApiKey
from app.metering.resp import ScriptCaller
from app.organisations.models import Organisation, Role
from app.timeutil import utcnow
from app.usage.models import ApiCall
from tests.fixtures.factories import make_customer
from tests.fixtures.visitor import bearer
from tests.metering.teams import make_team
from tests.server import TlsRedisServer


def ledger_state(app, org_id):
    """(balance in the database, sum of the ledger, charged calls logged, usage ledger rows)."""
    with app.app_context():
        balance = _db.session.scalar(select(Organisation.credit_balance).where(Organisation.id == org_id))
        total = _db.session.scalar(select(func.coalesce(func.sum(CreditEntry.amount), 0))
                                   .where(CreditEntry.organisation_id == org_id))
        charged = _db.session.scalar(select(func.count()).select_from(ApiCall)
                                     .where(ApiCall.organisation_id == org_id, ApiCall.credits > 0))
        usage = _db.session.scalar(select(func.count()).select_from(CreditEntry)
                                   .where(CreditEntry.organisation_id == org_id, CreditEntry.kind == "usage"))
        return balance, int(total), charged, usage


def test_calls_are_charged_logged_and_the_ledger_adds_up(redis_app):
    app = redis_app()
    client = app.test_client()
    org_id, secret = make_customer(app, credits=20)
    remaining = [client.get("/api/v1/users/jack/tweets", headers=bearer(secret)).headers["X-Credits-Remaining"]
                 for _ in range(3)]
    assert remaining == ["15", "10", "5"]
    assert ledger_state(app, org_id) == (5, 5, 3, 3)
    assert app.test_cli_runner().invoke(args=["credits", "verify"]).output.strip().endswith("0 mismatches")


def test_a_key_revoked_in_one_process_stops_in_another_on_its_next_request(redis_app):
    prefix = f"shared-{uuid.uuid4().hex[:8]}"
    portal, gateway = redis_app(prefix), redis_app(prefix)  # two processes: two key caches, one Redis
    org_id, secret = make_customer(portal)
    client = gateway.test_client()
    assert client.get("/api/v1/users/jack", headers=bearer(secret)).status_code == 200  # cached now
    with portal.test_request_context():
        key = _db.session.scalar(select(ApiKey).where(ApiKey.organisation_id == org_id))
        keys.revoke_key(_db.session.get(Organisation, org_id), key.id, utcnow())
        _db.session.commit()
    response = client.get("/api/v1/users/jack", headers=bearer(secret))
    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"


def test_a_scope_or_address_taken_from_a_key_in_one_process_holds_in_another_at_once(redis_app):
    prefix = f"shared-{uuid.uuid4().hex[:8]}"
    portal, gateway = redis_app(prefix), redis_app(prefix)  # two key caches, one Redis
    org_id, secret = make_customer(portal, credits=100)
    client = gateway.test_client()
    assert client.get("/api/v1/tweets/1", headers=bearer(secret)).status_code == 200  # cached: every endpoint
    with portal.test_request_context():
        key = _db.session.scalar(select(ApiKey).where(ApiKey.organisation_id == org_id))
        keys.set_controls(key, ["users:read"], [], None)
        _db.session.commit()
    refused = client.get("/api/v1/tweets/1", headers=bearer(secret))
    assert refused.status_code == 403 and refused.json["code"] == "missing_scope"  # not served on the old scopes
    assert client.get("/api/v1/users/jack", headers=bearer(secret)).status_code == 200
    with portal.test_request_context():
        key = _db.session.scalar(select(ApiKey).where(ApiKey.organisation_id == org_id))
        keys.set_controls(key, None, ["192.0.2.0/24"], None)
        _db.session.commit()
    assert client.get("/api/v1/users/jack", headers=bearer(secret)).json["code"] == "ip_not_allowed"
    with portal.test_request_context():  # and a control lifted is lifted at once (the cached copy is re-read)
        key = _db.session.scalar(select(ApiKey).where(ApiKey.organisation_id == org_id))
        keys.set_controls(key, None, ["127.0.0.0/8"], None)
        _db.session.commit()
    assert client.get("/api/v1/users/jack", headers=bearer(secret)).status_code == 200
    assert ledger_state(portal, org_id)[0] == 97  # three calls served, the refusals cost nothing


def test_a_rotated_key_stops_when_its_grace_period_ends(redis_app):
    app = redis_app()
    client = app.test_client()
    org_id, secret = make_customer(app)
    assert client.get("/api/v1/users/jack", headers=bearer(secret)).status_code == 200
    with app.test_request_context():
        key = _db.session.scalar(select(ApiKey).where(ApiKey.organisation_id == org_id))
        key.expires_at = utcnow() - timedelta(seconds=1)  # the grace period is over
        _db.session.commit()
    assert client.get("/api/v1/users/jack", headers=bearer(secret)).status_code == 401


def test_a_suspended_organisation_is_refused_at_once(redis_app):
    app = redis_app()
    client = app.test_client()
    org_id, secret = make_customer(app)
    assert client.get("/api/v1/users/jack", headers=bearer(secret)).status_code == 200
    with app.app_context():
        _db.session.get(Organisation, org_id).suspended_at = utcnow()
        _db.session.commit()
    assert client.get("/api/v1/users/jack", headers=bearer(secret)).status_code == 401


def test_a_suspended_members_keys_stop_at_once_and_the_other_members_keys_keep_working(redis_app):
    app = redis_app()
    client = app.test_client()
    team = make_team(app, credits=100, roles=(Role.OWNER, Role.DEVELOPER))
    owner_key, developer_key = team.secrets
    assert [client.get("/api/v1/users/jack", headers=bearer(k)).status_code for k in team.secrets] == [200, 200]
    with app.app_context():
        _db.session.get(User, team.member_ids[1]).suspended_at = utcnow()
        _db.session.commit()
    assert client.get("/api/v1/users/jack", headers=bearer(developer_key)).status_code == 401
    assert client.get("/api/v1/users/jack", headers=bearer(owner_key)).headers["X-Credits-Remaining"] == "97"


def test_credits_bought_are_spendable_on_the_next_call(redis_app):
    app = redis_app()
    client = app.test_client()
    org_id, secret = make_customer(app, credits=0)
    refused = client.get("/api/v1/users/jack", headers=bearer(secret))
    assert refused.status_code == 402 and refused.get_json()["balance"] == 0
    with app.app_context():
        billing.add_credits(_db.session.get(Organisation, org_id), 50, "purchase", utcnow(), reason="ORD-TEST-0001")
        _db.session.commit()
    served = client.get("/api/v1/users/jack", headers=bearer(secret))
    assert served.status_code == 200 and served.headers["X-Credits-Remaining"] == "49"


def test_a_debit_counts_the_charges_not_yet_written_to_the_database(redis_app):
    app = redis_app(METERING_FLUSH="external")  # the records wait in Redis for the flusher service
    client = app.test_client()
    org_id, secret = make_customer(app, credits=10)
    for _ in range(5):
        assert client.get("/api/v1/users/jack", headers=bearer(secret)).status_code == 200
    assert ledger_state(app, org_id)[0] == 10  # not written yet
    with app.app_context():
        organisation = _db.session.get(Organisation, org_id)
        with pytest.raises(billing.InsufficientCredits) as short:
            billing.add_credits(organisation, -8, "adjustment", utcnow(), reason="chargeback")
        assert short.value.balance == 5
        _db.session.rollback()
        billing.add_credits(organisation, -5, "adjustment", utcnow(), reason="chargeback")
        _db.session.commit()
    assert client.get("/api/v1/users/jack", headers=bearer(secret)).status_code == 402
    assert app.test_cli_runner().invoke(args=["usage", "flush"]).exit_code == 0
    assert ledger_state(app, org_id) == (0, 0, 5, 5)


def test_concurrent_calls_for_the_last_credits_never_overspend(redis_app):
    app = redis_app()
    org_id, secret = make_customer(app, credits=10)
    statuses, barrier = [], threading.Barrier(30)

    def call():
        client = app.test_client()
        barrier.wait()
        statuses.append(client.get("/api/v1/users/jack", headers=bearer(secret)).status_code)

    threads = [threading.Thread(target=call) for _ in range(30)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [200] * 10 + [402] * 20
    assert ledger_state(app, org_id) == (0, 0, 10, 10)


def test_rate_limit_headers_and_429_come_from_the_shared_window(redis_app):
    app = redis_app()
    client = app.test_client()
    _, secret = make_customer(app, credits=100, rate_limit=3)
    responses = [client.get("/api/v1/users/jack", headers=bearer(secret)) for _ in range(4)]
    assert [r.status_code for r in responses] == [200, 200, 200, 429]
    assert responses[0].headers["RateLimit-Policy"] == '"per-key";q=3;w=60'
    assert responses[2].headers["RateLimit"].startswith('"per-key";r=0;t=')
    assert 1 <= int(responses[3].headers["Retry-After"]) <= 120
    assert responses[3].headers["X-Credits-Remaining"] == "97"  # the refused call cost nothing


def test_when_redis_is_unreachable_calls_get_503_and_nothing_is_charged(make_app):
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        url = f"redis://127.0.0.1:{sock.getsockname()[1]}/0"
    app = make_app(REDIS_URL=url, API_METERING="redis")
    org_id, secret = make_customer(app, credits=10)
    response = app.test_client().get("/api/v1/users/jack", headers=bearer(secret))
    assert response.status_code == 503
    assert response.mimetype == "application/problem+json"
    assert "nothing was charged" in response.get_json()["detail"]
    assert response.headers["Retry-After"] == "5"
    assert ledger_state(app, org_id) == (10, 10, 0, 0)


def test_metering_setting_is_checked_at_start(make_app):
    with pytest.raises(RuntimeError, match="needs REDIS_URL"):
        make_app(API_METERING="redis", REDIS_URL=None)
    with pytest.raises(RuntimeError, match="'database' or 'redis'"):
        make_app(API_METERING="memcached")


def test_the_per_call_client_speaks_tls_and_reconnects_after_a_restart(tmp_path):
    """ScriptCaller on a real TLS-only redis-server (self-signed certificate trusted through
    ``ssl_ca_certs``, as redis-py reads the URL): the meter's own script runs, a restart of the
    server is survived by one reconnection, and a certificate nobody trusts is refused."""
    server = TlsRedisServer(tmp_path)
    server.start()
    try:
        caller = ScriptCaller(server.url, "return redis.call('INCR', KEYS[1])")
        assert caller(keys=["tls-count"], args=[]) == 1
        assert redis.Redis.from_url(server.url).get("tls-count") == b"1"  # redis-py reads the same URL
        server.stop()
        server.start()  # a fresh server: the old connection is dead and the script unknown
        assert caller(keys=["tls-count"], args=[]) == 1
        untrusted = ScriptCaller(server.url.split("?")[0], "return 1")
        with pytest.raises(redis.ConnectionError):
            untrusted(keys=[], args=[])
        caller.close()
    finally:
        server.stop()
