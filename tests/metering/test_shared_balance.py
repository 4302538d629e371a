"""One organisation's balance, spent at once through the keys several of its members made: on the
database meter (SQLite or PostgreSQL, whichever the run's database is), on the Redis meter on one
server and on a three-node Redis Cluster, exactly the credits there are get spent, whichever keys
race for them; and a key never sees, nor spends, another organisation's balance."""

import threading
import urllib.error
import urllib.request
import uuid
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from app.auth.models import User
from app.billing.models import CreditEntry
from app.extensions import db as _db
from app.organisations.models import Organisation, Role
from app.usage.models import ApiCall
from tests.fixtures.factories import ApiKeyFactory, UserFactory, make_customer, org_of
from tests.fixtures.visitor import bearer
from tests.metering.teams import add_member, make_team

USERS = "/api/v1/users/jack"  # 1 credit a call


@pytest.fixture(params=["database", "redis", "redis-cluster"])
def metered(request, make_app):
    """An application metering on the parameter's store (its own Redis key prefix)."""
    if request.param == "database":
        return make_app(API_METERING="database")
    if request.param == "redis-cluster":
        url, extra = request.getfixturevalue("redis_cluster").url, {"METERING_SHARDS": 4}
    else:
        url, extra = request.getfixturevalue("redis_url"), {}
    return make_app(REDIS_URL=url, RATELIMIT_STORAGE_URI=url, API_METERING="redis",
                    RATELIMIT_KEY_PREFIX=f"shared-{uuid.uuid4().hex[:8]}", **extra)


def state(app, org_id) -> tuple[int, int, int, int]:
    """(balance in the database, sum of the ledger, charged calls logged, keys among them)."""
    with app.app_context():
        balance = _db.session.scalar(select(Organisation.credit_balance).where(Organisation.id == org_id))
        ledger = _db.session.scalar(select(func.coalesce(func.sum(CreditEntry.amount), 0))
                                    .where(CreditEntry.organisation_id == org_id))
        charged = select(ApiCall).where(ApiCall.organisation_id == org_id, ApiCall.credits > 0).subquery()
        calls = _db.session.scalar(select(func.count()).select_from(charged))
        keys = _db.session.scalar(select(func.count(func.distinct(charged.c.key_id))))
        return balance, int(ledger), calls, keys


def settled(app, org_id, expected: tuple, seconds: float = 20) -> tuple:
    """The state once its balance, ledger and charged calls are ``expected`` (the Redis meter's
    records reach the database in batches), or as it is after ``seconds``."""
    deadline = datetime.now() + timedelta(seconds=seconds)
    found = state(app, org_id)
    while found[:3] != expected[:3] and datetime.now() < deadline:
        threading.Event().wait(0.2)
        found = state(app, org_id)
    return found


def in_process_race(app, secrets: list[str], callers: int) -> list[int]:
    """``callers`` threads of this process, released at once, caller n with key n mod len(secrets)."""
    statuses, lock, barrier = [], threading.Lock(), threading.Barrier(callers)

    def call(secret):
        client = app.test_client()
        barrier.wait()
        status = client.get(USERS, headers=bearer(secret)).status_code
        with lock:
            statuses.append(status)

    threads = [threading.Thread(target=call, args=(secrets[n % len(secrets)],)) for n in range(callers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses


def test_several_members_keys_racing_for_the_last_credits_never_overspend(metered):
    """Thirty calls at once through four members' keys (owner, developer, admin, developer) for the
    organisation's ten credits: ten are served, twenty get 402, the ledger adds up."""
    team = make_team(metered, credits=10, rate_limit=1000)
    assert len(team.secrets) == 4
    statuses = in_process_race(metered, team.secrets, 30)
    assert sorted(statuses) == [200] * 10 + [402] * 20
    balance, ledger, calls, keys = settled(metered, team.organisation_id, (0, 0, 10))
    assert (balance, ledger, calls) == (0, 0, 10) and keys >= 2
    answer = metered.test_client().get("/api/v1/account", headers=bearer(team.secrets[1])).json["data"]
    assert answer["organisation"]["balance"] == answer["balance"] == 0


def gunicorn_race(base: str, secrets: list[str], callers: int) -> list[int]:
    """``callers`` real clients released at once by a barrier, caller n with key n mod len(secrets)."""
    results, lock, barrier = [], threading.Lock(), threading.Barrier(callers)

    def call(secret):
        request = urllib.request.Request(base + USERS, headers={"Authorization": f"Bearer {secret}"})
        barrier.wait()
        try:
            with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - loopback
                status = response.status
        except urllib.error.HTTPError as exc:
            status = exc.code
        with lock:
            results.append(status)

    threads = [threading.Thread(target=call, args=(secrets[n % len(secrets)],)) for n in range(callers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


@pytest.mark.parametrize("meter", ["database", "redis", "redis-cluster"])
def test_two_hundred_callers_with_four_members_keys_racing_for_k_credits_get_exactly_k(meter, make_app, serve,
                                                                                         request):
    """Real concurrent clients against gunicorn (2 workers x 8 threads), 50 through each of four
    keys made by four members of one organisation, race for its 40 credits: exactly 40 calls are
    served and charged, 160 get 402, the balance ends at 0 and the ledger adds up."""
    env = {"API_METERING": "database"}
    if meter != "database":
        url = (request.getfixturevalue("redis_cluster").url if meter == "redis-cluster"
               else request.getfixturevalue("redis_url"))
        env = {"REDIS_URL": url, "RATELIMIT_STORAGE_URI": url, "API_METERING": "redis",
               "RATELIMIT_KEY_PREFIX": f"shared-race-{uuid.uuid4().hex[:8]}",
               **({"METERING_SHARDS": 4} if meter == "redis-cluster" else {})}
    app = make_app(API_METERING="database")
    team = make_team(app, credits=40, rate_limit=1000)
    base = serve(**env)
    statuses = gunicorn_race(base, team.secrets, 200)
    assert (statuses.count(200), statuses.count(402)) == (40, 160), sorted(set(statuses))
    balance, ledger, calls, keys = settled(app, team.organisation_id, (0, 0, 40))
    assert (balance, ledger, calls) == (0, 0, 40)
    assert keys >= 2  # the credits went to several members' keys, not one


def test_a_key_never_sees_nor_spends_another_organisations_balance(metered):
    """A person in two organisations holds a key of each: each key reports and spends its own
    organisation's balance; the other organisation's is untouched."""
    team = make_team(metered, credits=500, roles=(Role.OWNER, Role.DEVELOPER))
    personal_id, personal_secret = make_customer(metered, email=f"solo-{uuid.uuid4().hex[:6]}@example.com",
                                                 credits=70)
    with metered.test_request_context():  # the team's developer also has a personal organisation and a key of it
        developer = _db.session.get(User, team.member_ids[1])
        own_secret = ApiKeyFactory(user=developer, organisation=org_of(developer)).secret
        _db.session.commit()
        developer_personal = org_of(developer).id
    client = metered.test_client()
    assert client.get(USERS, headers=bearer(team.secrets[1])).status_code == 200
    team_view = client.get("/api/v1/account", headers=bearer(team.secrets[1])).json["data"]
    assert team_view["organisation"] == {
        "id": team.organisation_id, "name": "Acme Analytics", "personal": False, "balance": 499,
        "spend_limit": team_view["spend_limit"], "usage_this_month": {"calls": 1, "credits": 1}}
    assert team_view["balance"] == 499
    own_view = client.get("/api/v1/account", headers=bearer(own_secret)).json["data"]
    assert own_view["organisation"]["id"] == developer_personal != team.organisation_id
    assert own_view["organisation"]["name"] is None and own_view["organisation"]["personal"] is True
    assert own_view["balance"] == own_view["organisation"]["balance"] == 0  # not the team's 499
    assert own_view["usage_this_month"] == {"calls": 0, "credits": 0}
    refused = client.get(USERS, headers=bearer(own_secret))
    assert refused.status_code == 402 and refused.json["balance"] == 0  # the team's credits are not its
    solo = client.get("/api/v1/account", headers=bearer(personal_secret)).json["data"]
    assert (solo["organisation"]["id"], solo["balance"]) == (personal_id, 70)
    assert settled(metered, team.organisation_id, (499, 499, 1, 1)) == (499, 499, 1, 1)
    assert settled(metered, personal_id, (70, 70, 0, 0)) == (70, 70, 0, 0)


def test_a_member_added_later_spends_the_same_balance_with_a_key_of_their_own(metered):
    team = make_team(metered, credits=3, roles=(Role.OWNER,))
    with metered.test_request_context():
        newcomer = UserFactory(email=f"newcomer-{uuid.uuid4().hex[:6]}@example.com")
        add_member(team.organisation_id, newcomer, Role.DEVELOPER)
        organisation = _db.session.get(Organisation, team.organisation_id)
        newcomer_secret = ApiKeyFactory(user=newcomer, organisation=organisation).secret
        _db.session.commit()
    client = metered.test_client()
    answers = [client.get(USERS, headers=bearer(s)) for s in (team.secrets[0], newcomer_secret, team.secrets[0])]
    assert [a.headers["X-Credits-Remaining"] for a in answers] == ["2", "1", "0"]
    assert client.get(USERS, headers=bearer(newcomer_secret)).status_code == 402
