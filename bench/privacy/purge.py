"""The retention purge of the call log at scale, with the API under load while it runs.

    .venv/bin/python bench/privacy/purge.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test

Creates a fresh PostgreSQL database (the SQLite purge is measured by ``run.py``), fills it with SQL:
``--expired`` calls spread over the four months before the call-log period (as months of real
traffic would be, in their monthly partitions on PostgreSQL), ``--whole-ips`` calls between
``CALL_IP_DAYS`` and 30 days old whose IPs are still whole, and a day of recent calls. Then
starts gunicorn (Redis meter, background flusher: the production set-up) and measures the
metered call's latency with ``wrk`` in rounds before the purge and while it runs.

Reports: time of each rule (``api_calls.expired``, ``api_calls.ip``) and of the whole purge, the
longest transaction, statements over 200 ms, the rows each rule touched, and the API's p99 before
and during (bar: under 60 s in all, no transaction over 0.5 s, p99 within 20 %).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench" / "api"))

from run import make_customer, prepare_database, start_server, wrk  # noqa: E402 - the API bench's helpers

FILL = """
INSERT INTO api_calls (request_id, organisation_id, key_id, created_at, method, endpoint, status, credits,
                       latency_ms, ip, ip_truncated)
SELECT :tag || g, :user, NULL, CAST(:start AS TIMESTAMP) + (g * :span / :rows) * INTERVAL '1 second', 'GET',
       '/api/v1/users/{username}', 200, 1, 3, '198.51.' || (g % 200) || '.' || (g % 250), :truncated
FROM generate_series(1, :rows) AS g
"""


def millis(value: str) -> float:
    """wrk's latency ("523.00us", "1.23ms", "1.02s") in milliseconds."""
    for unit, factor in (("us", 0.001), ("ms", 1.0), ("s", 1000.0)):
        if value.endswith(unit):
            return float(value[: -len(unit)]) * factor
    raise ValueError(value)


def fill(engine, user_id: int, tag: str, rows: int, start, span_seconds: float, truncated: bool) -> float:
    from sqlalchemy import text

    began = time.perf_counter()
    step = 1_000_000
    for offset in range(0, rows, step):
        count = min(step, rows - offset)
        with engine.begin() as conn:
            conn.execute(text(FILL), {"tag": f"{tag}{offset}-", "user": user_id, "rows": count,
                                      "start": start + timedelta(seconds=span_seconds * offset / rows),
                                      "span": span_seconds * count / rows, "truncated": truncated})
    with engine.begin() as conn:
        conn.execute(text("ANALYZE api_calls"))
    return round(time.perf_counter() - began, 1)


def watch(engine) -> dict:
    """Longest transaction and slow statements, from the engine's events."""
    from sqlalchemy import event

    seen = {"longest_transaction_s": 0.0, "statements_over_200ms": 0, "slowest_statement_s": 0.0}
    began: dict = {}

    @event.listens_for(engine, "begin")
    def _begin(conn):
        began[id(conn)] = time.perf_counter()

    def _end(conn):
        start = began.pop(id(conn), None)
        if start is not None:
            seen["longest_transaction_s"] = max(seen["longest_transaction_s"], time.perf_counter() - start)

    event.listen(engine, "commit", _end)
    event.listen(engine, "rollback", _end)

    @event.listens_for(engine, "before_cursor_execute")
    def _before(conn, cursor, statement, parameters, context, executemany):
        conn.info["started"] = time.perf_counter()

    @event.listens_for(engine, "after_cursor_execute")
    def _after(conn, cursor, statement, parameters, context, executemany):
        took = time.perf_counter() - conn.info.pop("started", time.perf_counter())
        seen["slowest_statement_s"] = max(seen["slowest_statement_s"], took)
        seen["statements_over_200ms"] += took > 0.2

    return seen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", required=True, help="PostgreSQL URL to create a bench database in")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/15")
    parser.add_argument("--expired", type=int, default=10_000_000, help="calls past the call-log period")
    parser.add_argument("--whole-ips", type=int, default=1_000_000, help="calls past the IP period, IP still whole")
    parser.add_argument("--batch-size", type=int, default=1000, help="rows a transaction (the CLI's default)")
    parser.add_argument("--round-seconds", type=int, default=5, help="length of each wrk round")
    parser.add_argument("--connections", type=int, default=8)
    args = parser.parse_args()

    from sqlalchemy import text

    from app import create_app, retention
    from app.extensions import db
    from app.timeutil import utcnow
    from app.usage import partitions

    workdir = Path(tempfile.mkdtemp(prefix="twtapi-purge-bench-"))
    url, cleanup = prepare_database(args.database_url, workdir)
    secret = make_customer(url, "load@example.com", 100_000_000)
    app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": url})
    report: dict = {"expired": args.expired, "whole_ips": args.whole_ips, "batch_size": args.batch_size}
    try:
        with app.app_context():
            now = utcnow()
            user_id = db.session.scalar(text("SELECT id FROM organisations"))  # the customer's personal one
            log_days, ip_days = app.config["CALL_LOG_DAYS"], app.config["CALL_IP_DAYS"]
            # The months the traffic came in had their partitions, made by the daily job.
            partitions.ensure(db.engine, now, since=now - timedelta(days=log_days + 125))
            expired_start = now - timedelta(days=log_days + 120)
            report["fill_s"] = {
                "expired": fill(db.engine, user_id, "x", args.expired, expired_start, 119 * 86400, True),
                "whole_ips": fill(db.engine, user_id, "w", args.whole_ips, now - timedelta(days=30),
                                  (30 - ip_days - 1) * 86400, False),
                "recent": fill(db.engine, user_id, "r", 50_000, now - timedelta(days=1), 80_000, False),
            }
            db.session.remove()

        server, base = start_server(url, 2, workdir, "redis", args.redis_url, f"purge-bench-{uuid.uuid4().hex[:8]}",
                                    threads=8)
        headers = {"Authorization": f"Bearer {secret}"}
        try:
            wrk(base + "/api/v1/users/jack", 2, args.connections, headers)  # warm-up
            before = [wrk(base + "/api/v1/users/jack", args.round_seconds, args.connections, headers)
                      for _ in range(3)]
            during, outcome = [], {}

            def run_purge():
                with app.app_context():
                    seen = watch(db.engine)
                    started = time.perf_counter()
                    created = partitions.ensure(db.engine, utcnow())
                    rules = {}
                    for name in ("api_calls.expired", "api_calls.ip"):
                        rule_started = time.perf_counter()
                        rows = retention.purge(app.config, utcnow(), batch_size=args.batch_size, only=name)[name]
                        rules[name] = {"rows": rows, "seconds": round(time.perf_counter() - rule_started, 2)}
                    outcome.update(seconds=round(time.perf_counter() - started, 2), rules=rules,
                                   partitions_created=created, **{k: round(v, 3) for k, v in seen.items()})

            purge = threading.Thread(target=run_purge)
            purge.start()
            while purge.is_alive():
                during.append(wrk(base + "/api/v1/users/jack", args.round_seconds, args.connections, headers))
            purge.join()
        finally:
            server.terminate()
            server.wait(timeout=30)
        p99_before = statistics.median(millis(r["latency"]["99"]) for r in before)
        p99_during = max(millis(r["latency"]["99"]) for r in during)
        report["purge"] = outcome
        report["api"] = {
            "p99_ms_before_median_of_3": round(p99_before, 2),
            "p99_ms_during_median_round": round(statistics.median(millis(r["latency"]["99"]) for r in during), 2),
            "p99_ms_during_worst_round": round(p99_during, 2),
            "p99_ms_during_each_round": [round(millis(r["latency"]["99"]), 2) for r in during],
            "rps_before": [r["rps"] for r in before], "rps_during": [r["rps"] for r in during],
            "ratio_during_to_before_median": round(statistics.median(millis(r["latency"]["99"]) for r in during)
                                                   / p99_before, 3),
            "ratio_during_to_before_worst": round(p99_during / p99_before, 3),
        }
        with app.app_context():
            report["left"] = {"calls": db.session.scalar(text("SELECT count(*) FROM api_calls")),
                              "whole_ips_past_period": db.session.scalar(text(
                                  "SELECT count(*) FROM api_calls WHERE ip_truncated = false AND created_at < :c"),
                                  {"c": utcnow() - timedelta(days=ip_days)})}
            db.engine.dispose()
    finally:
        cleanup()
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
