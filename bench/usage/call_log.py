"""The call-log explorer on an account with 10 million calls (bar: p95 under 50 ms).

    .venv/bin/python bench/usage/call_log.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test

Creates a fresh database (PostgreSQL with ``--database-url``, the production case; the monthly
partitions of the last 90 days are made as the daily job would have made them), fills it with SQL
(``generate_series``): ``--calls`` calls of one account over the last 89 days, on three keys (80 %,
19.9 %, 0.1 %), four endpoints (70/25/4/1 %), 2 % refused and 0.1 % failed. Then starts gunicorn,
signs in through the real form and times ``--requests`` sequential page loads of each filter:
none, a pasted request id, the rare key, the rare endpoint, failures only, one day a month ago,
and the 20th page of older calls (following the cursor). Reports p50 and p95 in milliseconds.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
import time
import urllib.request
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench" / "api"))

from run import make_customer, prepare_database, sign_in, start_server  # noqa: E402 - bench/api/run.py

FILL = """
INSERT INTO api_calls (request_id, organisation_id, key_id, created_at, method, endpoint, status, credits,
                       latency_ms, ip, ip_truncated)
SELECT md5(:tag || g), :user,
       CASE WHEN g % 1000 = 7 THEN :rare_key WHEN g % 5 = 0 THEN :second_key ELSE :main_key END,
       CAST(:start AS TIMESTAMP) + (g * :span / :rows) * INTERVAL '1 second', 'GET',
       CASE WHEN g % 100 < 70 THEN '/api/v1/users/{username}' WHEN g % 100 < 95 THEN '/api/v1/users/{username}/tweets'
            WHEN g % 100 < 99 THEN '/api/v1/tweets/{id}' ELSE '/api/v1/tweets/search' END,
       CASE WHEN g % 1000 = 3 THEN 502 WHEN g % 50 = 1 THEN 429 ELSE 200 END,
       1, 3, '198.51.100.7', true
FROM generate_series(1, :rows) AS g
"""


def timed(opener_headers: dict, url: str, count: int) -> dict:
    took = []
    for _ in range(count):
        started = time.perf_counter()
        with urllib.request.urlopen(urllib.request.Request(url, headers=opener_headers)) as response:  # noqa: S310
            response.read()
        took.append((time.perf_counter() - started) * 1000)
    took.sort()
    return {"p50_ms": round(statistics.median(took), 1), "p95_ms": round(took[int(len(took) * 0.95) - 1], 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url")
    parser.add_argument("--calls", type=int, default=10_000_000)
    parser.add_argument("--requests", type=int, default=100, help="page loads per filter")
    args = parser.parse_args()

    from sqlalchemy import text

    from app import create_app
    from app.auth.models import User
    from app.extensions import db
    from app.keys.services import create_key
    from app.organisations.services import personal_organisation
    from app.timeutil import utcnow
    from app.usage import partitions

    workdir = Path(tempfile.mkdtemp(prefix="twtapi-bench-calls-"))
    url, cleanup = prepare_database(args.database_url, workdir)
    make_customer(url, "explorer@example.com", 1000)
    app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": url})
    report: dict = {"calls": args.calls, "database": "postgresql" if args.database_url else "sqlite"}
    try:
        with app.test_request_context():
            now = utcnow()
            user = db.session.scalar(db.select(User))
            main_key = db.session.scalar(text("SELECT id FROM api_keys"))
            organisation = personal_organisation(user.id)
            second_key = create_key(organisation, user, "second", None, 10, app.config, now)[0].id
            rare_key = create_key(organisation, user, "rare", None, 10, app.config, now)[0].id
            db.session.commit()
            partitions.ensure(db.engine, now, since=now - timedelta(days=90))  # as the daily job made them
            started = time.perf_counter()
            step = 1_000_000
            for offset in range(0, args.calls, step):
                rows = min(step, args.calls - offset)
                with db.engine.begin() as conn:
                    conn.execute(text(FILL), {
                        "tag": f"c{offset}-", "user": organisation.id, "rows": rows, "main_key": main_key,
                        "second_key": second_key, "rare_key": rare_key,
                        "start": now - timedelta(days=89) + timedelta(seconds=89 * 86400 * offset / args.calls),
                        "span": 89 * 86400 * rows / args.calls})
            with db.engine.begin() as conn:
                conn.execute(text("ANALYZE api_calls"))
                middle = conn.scalar(text("SELECT request_id FROM api_calls WHERE created_at < :t "
                                          "ORDER BY created_at DESC LIMIT 1"), {"t": now - timedelta(days=45)})
            report["fill_s"] = round(time.perf_counter() - started, 1)
            user_id = user.id
            db.engine.dispose()
        server, base = start_server(url, 2, workdir, "database", None, "bench-calls", threads=8)
        try:
            headers = {"Cookie": sign_in(base, "explorer@example.com")}
            day = (now - timedelta(days=30)).date()
            explorer = base + "/account/usage/calls"
            scenarios = {
                "no filter": explorer,
                "request id": f"{explorer}?request_id={middle}",
                "rare key (0.1 %)": f"{explorer}?key={rare_key}",
                "rare endpoint (1 %)": f"{explorer}?path=/api/v1/tweets/search",
                "failures only (5xx, 0.1 %)": f"{explorer}?status=5xx",
                "one day a month ago": f"{explorer}?since={day}&until={day}",
            }
            page = explorer
            for _ in range(19):  # the 20th page: follow the cursor as a reader would
                body = urllib.request.urlopen(urllib.request.Request(page, headers=headers)).read().decode()  # noqa: S310
                page = base + re.search(r'href="([^"]+)" rel="next"', body).group(1).replace("&amp;", "&")
            scenarios["20th page"] = page
            timed(headers, explorer, 10)  # warm-up
            report["pages"] = {name: timed(headers, target, args.requests) for name, target in scenarios.items()}
            report["user_id"] = user_id
        finally:
            server.terminate()
            server.wait(timeout=30)
    finally:
        cleanup()
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
