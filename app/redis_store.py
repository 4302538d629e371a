"""Redis connections, to one server or to a Redis Cluster, from ``REDIS_URL``.

- ``redis://host:port/db``, ``rediss://…`` (TLS), ``unix:///path``: one server (or a proxy in
  front of a replicated pair).
- ``redis+cluster://[user:password@]host:port[,host:port…]``: a Redis Cluster, found from any of
  the nodes listed (the scheme Flask-Limiter's storage reads too). A cluster has no numbered
  databases; the key prefix (``RATELIMIT_KEY_PREFIX``) separates deployments.

Every multi-key step the meter takes names keys of one hash slot (``redis_meter.py``), so it runs on
one node of a cluster.
"""

from __future__ import annotations

from urllib.parse import unquote

import redis
from redis.cluster import ClusterNode, RedisCluster

CLUSTER_SCHEME = "redis+cluster"


def is_cluster(url: str | None) -> bool:
    return bool(url) and url.split("://", 1)[0] == CLUSTER_SCHEME


def cluster_nodes(url: str) -> tuple[list[tuple[str, int]], str | None, str | None]:
    """The nodes, user name and password a ``redis+cluster://`` URL names."""
    rest = url.split("://", 1)[1].split("/", 1)[0].split("?", 1)[0]
    auth, _, hosts = rest.rpartition("@")
    username, _, password = auth.partition(":") if auth else ("", "", "")
    nodes = []
    for host in hosts.split(","):
        name, _, port = host.strip().rpartition(":")
        nodes.append((name or "localhost", int(port or 6379)))
    return nodes, unquote(username) or None, unquote(password) or None


def connect(url: str, **options) -> redis.Redis | RedisCluster:
    """A redis-py client for ``url``: ``redis.Redis`` for one server, ``RedisCluster`` for a cluster."""
    if not is_cluster(url):
        return redis.Redis.from_url(url, **options)
    nodes, username, password = cluster_nodes(url)
    options.pop("health_check_interval", None)  # the cluster client checks its nodes itself
    return RedisCluster(startup_nodes=[ClusterNode(host, port) for host, port in nodes], username=username,
                        password=password, **options)
