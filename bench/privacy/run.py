"""Benchmark of the data export (streamed ZIP) and of the retention purge on a large call log.

    .venv/bin/python bench/privacy/run.py --calls 1000000 --purge-rows 10000000

Measures: export time and the peak memory of the process while the ZIP is produced and
discarded chunk by chunk (bar: below 200 MB), and purge time and the longest single transaction
(bar: under one second) for deleting old raw calls in batches. SQLite in a temporary folder.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=1_000_000, help="calls of the exported account")
    parser.add_argument("--purge-rows", type=int, default=10_000_000, help="old call rows for the purge")
    parser.add_argument("--batch-size", type=int, default=5000)
    args = parser.parse_args()

    from flask_migrate import upgrade
    from sqlalchemy import event, text

    from app import create_app, retention
    from app.auth.models import User
    from app.extensions import db
    from app.organisations.services import create_personal
    from app.rights.export import export_zip
    from app.timeutil import utcnow

    workdir = Path(tempfile.mkdtemp(prefix="twtapi-privacy-bench-"))
    app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{workdir / 'bench.sqlite'}"})
    report = {}
    with app.test_request_context():
        upgrade()
        now = utcnow()
        user = User(email="big@example.com", password_hash="x", created_at=now, age_confirmed_at=now,
                    accepted_privacy_version="v", accepted_terms_version="v", email_verified_at=now)
        db.session.add(user)
        db.session.flush()
        organisation_id = create_personal(user, now).id
        db.session.commit()
        raw = db.session.connection().connection.driver_connection

        def fill(count: int, days_ago: int, prefix: str) -> float:
            started = time.perf_counter()
            first = now - timedelta(days=days_ago)
            cursor = raw.cursor()
            step = 100_000
            for start in range(0, count, step):  # one call every 50 ms, as a busy account makes them
                rows = [(f"{prefix}{i:012d}", organisation_id,
                         (first + timedelta(milliseconds=50 * i)).isoformat(sep=" "), "GET",
                         "/api/v1/users/{username}", 200, 1, 3, "203.0.113.9", 0)
                        for i in range(start, min(count, start + step))]
                cursor.executemany(
                    "INSERT INTO api_calls (request_id, organisation_id, created_at, method, endpoint, status, "
                    "credits, latency_ms, ip, ip_truncated) VALUES (?,?,?,?,?,?,?,?,?,?)", rows)
                raw.commit()
            return time.perf_counter() - started

        report["fill_export_rows_s"] = round(fill(args.calls, 1, "e"), 1)
        before = peak_rss_mb()
        started = time.perf_counter()
        size = 0
        for chunk in export_zip(user, app.config, "en", utcnow()):
            size += len(chunk)
        report["export"] = {"calls": args.calls, "seconds": round(time.perf_counter() - started, 1),
                            "zip_mb": round(size / 1e6, 1), "peak_rss_mb_before": round(before, 1),
                            "peak_rss_mb_after": round(peak_rss_mb(), 1)}
        db.session.execute(text("DELETE FROM api_calls"))
        db.session.commit()

        report["fill_purge_rows_s"] = round(fill(args.purge_rows, 200, "p"), 1)
        longest = {"s": 0.0}
        began: dict = {}

        @event.listens_for(db.engine, "begin")
        def _begin(conn):
            began[id(conn)] = time.perf_counter()

        @event.listens_for(db.engine, "commit")
        def _commit(conn):
            start = began.pop(id(conn), None)
            if start is not None:
                longest["s"] = max(longest["s"], time.perf_counter() - start)

        started = time.perf_counter()
        counts = retention.purge(app.config, utcnow(), batch_size=args.batch_size, only="api_calls.expired")
        report["purge"] = {"rows": counts["api_calls.expired"], "seconds": round(time.perf_counter() - started, 1),
                           "batch_size": args.batch_size, "longest_transaction_s": round(longest["s"], 3)}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
