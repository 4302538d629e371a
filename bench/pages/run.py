"""Portal pages against a bare endpoint of the same app, signed in and anonymous.

Starts gunicorn (2 workers x 8 threads) on `bench/api/wsgi_bench.py` with a fresh database and a
signed-in customer, then runs alternating rounds of `wrk` against the bare endpoint and each
page: the throughput ratio (median, with min and max) and the app server's CPU time per request.

    .venv/bin/python bench/pages/run.py [--seconds 5] [--repeat 3] [--database-url postgresql+psycopg://…]

Targets 127.0.0.1 only; each load run is bounded in time.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench" / "api"))

from run import make_customer, measured, prepare_database, sign_in, start_server  # noqa: E402 - bench/api/run.py

SIGNED_IN = ["/account", "/account/usage", "/account/keys", "/"]
ANONYMOUS = ["/", "/pricing", "/docs/api"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url")
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="twtapi-bench-pages-"))
    url, cleanup = prepare_database(args.database_url, workdir)
    make_customer(url, "bench-pages@example.com", 10_000)
    server, base = start_server(url, 2, workdir, "database", None, "bench-pages", threads=8)
    try:
        cookie = sign_in(base, "bench-pages@example.com")
        cases = [("signed in", path, {"Cookie": cookie}) for path in SIGNED_IN] + \
                [("anonymous", path, {}) for path in ANONYMOUS]
        rows = {f"{who} {path}": {"ratios": [], "cpu": [], "bare_cpu": []} for who, path, _ in cases}
        for _ in range(args.repeat):
            for who, path, headers in cases:
                bare = measured(server, base + "/bench/bare", args.seconds, args.connections, {})
                page = measured(server, base + path, args.seconds, args.connections, headers)
                assert page["non_2xx"] == 0, f"{path}: {page['non_2xx']} non-2xx answers"
                row = rows[f"{who} {path}"]
                row["ratios"].append(round(page["rps"] / bare["rps"], 3))
                row["cpu"].append(page["app_cpu_ms_per_request"])
                row["bare_cpu"].append(bare["app_cpu_ms_per_request"])
        report = {name: {"ratio_median": statistics.median(r["ratios"]), "ratio_min": min(r["ratios"]),
                         "ratio_max": max(r["ratios"]), "app_cpu_ms_median": statistics.median(r["cpu"]),
                         "bare_app_cpu_ms_median": statistics.median(r["bare_cpu"])}
                  for name, r in rows.items()}
        print(json.dumps({"database": "PostgreSQL" if args.database_url else "SQLite", "rounds": args.repeat,
                          "seconds": args.seconds, "pages": report}, indent=2))
    finally:
        server.terminate()
        server.wait(timeout=30)
        cleanup()


if __name__ == "__main__":
    main()
