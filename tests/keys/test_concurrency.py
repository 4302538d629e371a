"""API keys under concurrency: real concurrent clients against gunicorn (2 workers x 8 threads), on
SQLite as on PostgreSQL. A key is rotated once, and an organisation's working keys (active, and
rotated ones in their grace period) never pass the limit, however the requests interleave."""

import re
import threading
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import select

from app.auth.models import User
from app.extensions import db as _db
from app.keys.models import ApiKey
from app.keys.services import create_key
from app.organisations.models import Organisation
from app.timeutil import utcnow
from tests.fixtures.factories import make_customer
from tests.fixtures.visitor import PASSWORD_FOR_TESTS
from tests.server import HttpClient

SECRET = re.compile(r'value="(twt_[A-Za-z0-9_-]+)"')


def signed_in(url: str, email: str) -> tuple[HttpClient, str]:
    """A customer's browser, signed in just now, and the CSRF token of its keys page."""
    client = HttpClient(url)
    status, _, _ = client.submit("/login", {"email": email, "password": PASSWORD_FOR_TESTS})
    assert status == 303
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', client.get("/account/keys")[2]).group(1)
    return client, token


def working(app, org_id: int) -> list[ApiKey]:
    with app.app_context():
        keys = _db.session.scalars(select(ApiKey).where(ApiKey.organisation_id == org_id)).all()
        return [k for k in keys if k.usable(utcnow())]


def race(count: int, action) -> list[tuple[int, str]]:
    """``action(n)`` from ``count`` threads released at once; their (status, body)."""
    start = threading.Barrier(count)

    def run(n):
        start.wait()
        return action(n)

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(run, range(count)))


def test_fifteen_rotations_of_one_key_at_once_make_one_new_secret(make_app, serve):
    app = make_app()
    org_id, old_secret = make_customer(app, email="rotate@example.com")
    [key] = working(app, org_id)
    url = serve()
    client, token = signed_in(url, "rotate@example.com")
    answers = race(15, lambda n: client.request("POST", f"/account/keys/{key.id}/rotate",
                                                {"csrf_token": token, "grace_days": "1"})[::2])
    secrets = [m.group(1) for status, body in answers if status == 200 and (m := SECRET.search(body))]
    assert len(secrets) == 1, sorted(status for status, _ in answers)
    assert sorted(status for status, _ in answers) == [200] + [303] * 14
    api = HttpClient(url)
    for secret in (old_secret, *secrets):  # the old key in its grace period, and its one successor
        assert api.get("/api/v1/account", headers={"Authorization": f"Bearer {secret}"})[0] == 200
    assert len(working(app, org_id)) == 2


def test_rotations_and_creations_at_once_stop_at_the_limit(make_app, serve):
    """Eight working keys, then eight rotations with grace (one per key) and eight creations at
    once: each success adds a working key, so two succeed and the organisation ends at the limit."""
    app = make_app()
    org_id, _ = make_customer(app, email="busy@example.com")
    limit = app.config["PRICING"].max_keys
    with app.test_request_context():
        organisation = _db.session.get(Organisation, org_id)
        owner = _db.session.scalar(select(User).where(User.email == "busy@example.com"))
        for n in range(7):
            create_key(organisation, owner, f"existing {n}", None, limit, app.config, utcnow())
        _db.session.commit()
    keys = [k.id for k in working(app, org_id)]
    assert len(keys) == limit - 2
    url = serve()
    client, token = signed_in(url, "busy@example.com")

    def act(n):
        if n % 2:
            return client.request("POST", "/account/keys", {"csrf_token": token, "name": f"new {n}"})[0]
        return client.request("POST", f"/account/keys/{keys[n // 2]}/rotate",
                              {"csrf_token": token, "grace_days": "3"})[0]

    statuses = race(16, act)
    assert statuses.count(200) == 2, statuses
    assert len(working(app, org_id)) == limit


def test_thirty_creations_at_once_stop_at_the_limit(make_app, serve):
    app = make_app()
    org_id, _ = make_customer(app, email="many@example.com")  # holds one key already
    limit = app.config["PRICING"].max_keys
    url = serve()
    client, token = signed_in(url, "many@example.com")
    statuses = race(30, lambda n: client.request("POST", "/account/keys",
                                                 {"csrf_token": token, "name": f"key {n}"})[0])
    assert statuses.count(200) == limit - 1 and statuses.count(400) == 30 - (limit - 1), statuses
    assert len(working(app, org_id)) == limit
