"""What a key's controls cost per metered call: the same call with a plain key and with a key
holding every control (two endpoint groups, a 50-entry IP allowlist with the caller last, an
expiry, a daily and a monthly credit cap, and its account's monthly spend limit), in alternating
rounds on one server; app CPU per call is the figure (issue 21: at most 5 % more). The two keys
belong to two accounts, so the plain one has no spend limit.

Usage (from the project root, with the dev virtualenv):
    .venv/bin/python bench/api/controls.py                      # Redis meter, SQLite
    .venv/bin/python bench/api/controls.py --metering database
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run  # noqa: E402 - the gateway bench's helpers (server, wrk, CPU accounting)


def make_keys(url: str) -> tuple[str, str]:
    """A customer with a plain key, another with a key holding every control; their secrets."""
    from app import create_app
    from app.auth.models import User
    from app.extensions import db
    from app.keys.models import ApiKey
    from app.keys.services import create_key
    from app.organisations.services import personal_organisation
    from app.timeutil import utcnow

    plain = run.make_customer(url, "plain@example.com", 10_000_000)
    run.make_customer(url, "controls@example.com", 10_000_000)
    app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": url})
    with app.test_request_context():
        user = db.session.query(User).filter_by(email="controls@example.com").one()
        networks = [f"198.51.100.{i}/32" for i in range(49)] + ["127.0.0.1/32"]
        organisation = personal_organisation(user.id)
        _key, controlled = create_key(organisation, user, "controlled", None, 10, app.config, utcnow(),
                                      scopes=["users:read", "tweets:read"], networks=networks,
                                      valid_until=utcnow() + timedelta(days=30), caps=(10**9, 10**9))
        organisation.monthly_spend_limit = 10**9
        db.session.commit()
        assert db.session.query(ApiKey).count() == 3
        db.engine.dispose()
    return plain, controlled


def check_cost(url: str, plain: str, controlled: str, calls: int = 20_000) -> dict:
    """Microseconds the gateway's controls check (``api.services.refusal``) takes for each key."""
    from app import create_app
    from app.api.services import refusal
    from app.metering.lookups import find_key, key_info
    from app.timeutil import utcnow

    app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        infos = {name: key_info(find_key(secret)) for name, secret in (("plain", plain), ("controlled", controlled))}
    now, cost = utcnow(), {}
    for name, info in infos.items():
        started = time.perf_counter()
        for _ in range(calls):
            assert refusal(info, "users:read", "127.0.0.1", now) is None
        cost[name] = round((time.perf_counter() - started) / calls * 1e6, 2)
    return cost


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url")
    parser.add_argument("--metering", choices=["redis", "database"], default="redis")
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/15")
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="twtapi-bench-controls-"))
    url, cleanup = run.prepare_database(args.database_url, workdir)
    plain, controlled = make_keys(url)
    redis_url = args.redis_url if args.metering == "redis" else None
    server, base = run.start_server(url, 2, workdir, args.metering, redis_url, f"twtapi-bench-{uuid.uuid4().hex[:8]}",
                                    8)
    target = base + "/api/v1/users/jack"
    try:
        for secret in (plain, controlled):  # warm-up: keys cached, connections open
            run.wrk(target, 2, args.connections, {"Authorization": f"Bearer {secret}"})
        rounds = []
        for i in range(args.repeat):  # the order alternates, so a drifting machine favours neither key
            order = (plain, controlled) if i % 2 == 0 else (controlled, plain)
            done = {secret: run.measured(server, target, args.seconds, args.connections,
                                         {"Authorization": f"Bearer {secret}"}) for secret in order}
            rounds.append((done[plain], done[controlled]))
    finally:
        server.terminate()
        server.wait(timeout=30)
    check = check_cost(url, plain, controlled)
    cleanup()
    ratios = sorted(round(c["app_cpu_ms_per_request"] / p["app_cpu_ms_per_request"], 3) for p, c in rounds)
    median = ratios[len(ratios) // 2]
    print(json.dumps({
        "metering": args.metering, "database": "PostgreSQL" if args.database_url else "SQLite",
        "plain_key_app_cpu_ms": sorted(p["app_cpu_ms_per_request"] for p, _ in rounds),
        "controlled_key_app_cpu_ms": sorted(c["app_cpu_ms_per_request"] for _, c in rounds),
        "cpu_ratio_per_round": ratios, "median_cpu_ratio": median, "goal": "<= 1.05", "met": median <= 1.05,
        "refused_in_rounds": sum(c.get("non_2xx", 0) for _, c in rounds),
        "in_process_check_us": check,
        "check_share_of_a_call": round((check["controlled"] - check["plain"]) / 1000
                                       / sorted(p["app_cpu_ms_per_request"] for p, _ in rounds)[len(rounds) // 2], 4),
    }, indent=2))


if __name__ == "__main__":
    main()
