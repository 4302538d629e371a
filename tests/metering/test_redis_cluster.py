"""The meter, the limits and the health check on a real three-node Redis Cluster.

Every test of ``test_redis_meter.py`` and ``test_flush.py`` also runs on the cluster (the
``redis_app`` fixture); these check what only a cluster shows: where the keys live.
"""

import uuid

import redis

from tests.fixtures.factories import make_customer
from tests.fixtures.visitor import AuthActions, bearer


def keys_by_node(cluster, prefix: str) -> list[set[str]]:
    return [{name.decode() for name in redis.Redis(port=node.port).keys(prefix + "*")} for node in cluster.nodes]


def test_an_organisations_meter_keys_share_one_node_and_organisations_spread_over_all_nodes(make_app, redis_cluster):
    prefix = f"cluster-{uuid.uuid4().hex[:8]}"
    app = make_app(REDIS_URL=redis_cluster.url, RATELIMIT_STORAGE_URI=redis_cluster.url, RATELIMIT_KEY_PREFIX=prefix,
                   API_METERING="redis", METERING_SHARDS=4, METERING_FLUSH="external")
    meter = app.extensions["twtapi_meter"]
    customers = [make_customer(app, email=f"c{i}@example.com", credits=50) for i in range(8)]
    client = app.test_client()
    for _, secret in customers:
        assert client.get("/api/v1/users/jack", headers=bearer(secret)).status_code == 200

    found = keys_by_node(redis_cluster, prefix + ":meter:")
    for org_id, _ in customers:
        group = meter.group(org_id)
        holding = [i for i, names in enumerate(found) if any(name.startswith(group) for name in names)]
        assert len(holding) == 1, f"the keys of group {group} are on nodes {holding}"
        assert f"{group}bal:{org_id}" in found[holding[0]]
    assert all(found), "every node holds some organisations' keys"
    assert meter.pending_count() == 8

    result = app.test_cli_runner().invoke(args=["usage", "flush"])
    assert "8 call records written; 0 still waiting" in result.output
    assert [meter.balance(org_id) for org_id, _ in customers] == [49] * 8  # a profile costs 1 credit

    meter.close(forget=True)
    assert not any(keys_by_node(redis_cluster, prefix + ":meter:"))


def test_sign_in_throttling_and_healthz_work_on_the_cluster(make_app, redis_cluster, outbox):
    prefix = f"cluster-{uuid.uuid4().hex[:8]}"
    app = make_app(REDIS_URL=redis_cluster.url, RATELIMIT_STORAGE_URI=redis_cluster.url, RATELIMIT_KEY_PREFIX=prefix)
    client = app.test_client()
    auth = AuthActions(client, outbox)
    auth.register()
    for _ in range(5):
        assert auth.login(password="wrong password again").status_code == 200
    assert auth.login().status_code == 429
    health = client.get("/healthz")
    assert health.status_code == 200
    assert health.get_json()["redis"] == "ok"
    assert any(name.startswith(prefix) for names in keys_by_node(redis_cluster, "") for name in names)
