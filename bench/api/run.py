"""Benchmark of the metered API gateway against a bare endpoint, and a race for K credits.

Usage (from the project root, with the dev virtualenv):
    .venv/bin/python bench/api/run.py                       # SQLite
    .venv/bin/python bench/api/run.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test

Targets 127.0.0.1 only; each load run is bounded in time.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def prepare_database(base_url: str | None, workdir: Path) -> tuple[str, callable]:
    """A fresh, migrated database; returns its URL and a cleanup function."""
    from flask_migrate import upgrade

    from app import create_app

    if base_url is None:
        url, cleanup = f"sqlite:///{workdir / 'bench.sqlite'}", (lambda: None)
    else:
        import psycopg
        from sqlalchemy.engine import make_url

        from app.config import normalise_database_url

        base = make_url(normalise_database_url(base_url))
        name = f"twtapi_bench_{uuid.uuid4().hex[:8]}"
        admin = dict(host=base.host, port=base.port or 5432, user=base.username, dbname=base.database, autocommit=True)
        with psycopg.connect(**admin) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        url = base.set(database=name).render_as_string(hide_password=False)

        def cleanup():
            with psycopg.connect(**admin) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        upgrade()
    return url, cleanup


def make_customer(url: str, email: str, credits: int) -> str:
    from app import create_app
    from app.auth.models import User
    from app.auth.passwords import hash_password
    from app.billing.services import add_credits
    from app.extensions import db
    from app.keys.services import create_key
    from app.organisations.services import create_personal
    from app.timeutil import utcnow

    app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": url})
    with app.test_request_context():
        now = utcnow()
        user = User(email=email, password_hash=hash_password(PASSWORD), created_at=now,
                    email_verified_at=now, age_confirmed_at=now, password_changed_at=now,
                    accepted_privacy_version="v", accepted_terms_version="v")
        db.session.add(user)
        db.session.flush()
        organisation = create_personal(user, now)
        if credits:
            add_credits(organisation, credits, "purchase", now)
        _key, secret = create_key(organisation, user, "bench", None, 10, app.config, now)
        db.session.commit()
        db.engine.dispose()
    return secret


PASSWORD = "bench password long enough"  # noqa: S105 - make_customer's, for sign_in


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def sign_in(base: str, email: str) -> str:
    """Sign in through the real form; the Cookie header of the signed-in browser."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), _NoRedirect())
    page = opener.open(base + "/login").read().decode()
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    data = urllib.parse.urlencode({"csrf_token": token, "email": email, "password": PASSWORD}).encode()
    request = urllib.request.Request(base + "/login", data=data, headers={"Origin": base})
    try:
        opener.open(request)
    except urllib.error.HTTPError as exc:  # the 303 to the cookie check
        if exc.code != 303:
            raise
    cookie = "; ".join(f"{c.name}={c.value}" for c in jar)
    opener.open(base + "/account").close()  # raises on the redirect to /login when not signed in
    return cookie


SERVER_ENV: dict[str, str] = {}  # the settings of the last server started (the flusher service shares them)


def start_server(url: str, workers: int, workdir: Path, metering: str, redis_url: str | None,
                 prefix: str, threads: int = 4, variant: str = "", cpus: str = "",
                 flush: str = "background", module: str = "wsgi_bench") -> tuple[subprocess.Popen, str]:
    port = free_port()
    SERVER_ENV.update({"BENCH_VARIANT": variant, "BENCH_DATABASE_URL": url, "BENCH_MAIL_DIR": str(workdir / "mail"),
                       "BENCH_METERING": metering, "BENCH_REDIS_URL": redis_url or "", "BENCH_PREFIX": prefix,
                       "BENCH_FLUSH": flush, "SECRET_KEY": "bench-" + "x" * 40,
                       "PYTHONPATH": f"{ROOT}:{ROOT / 'bench' / 'api'}"})
    env = {**os.environ, **SERVER_ENV}
    log = open(workdir / "gunicorn.log", "wb")  # noqa: SIM115 - kept open for the server's lifetime
    pin = ["taskset", "-c", cpus] if cpus else []
    process = subprocess.Popen(
        [*pin, sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
         "--worker-class", "gthread", "--threads", str(threads), "--log-level", "warning", f"{module}:app"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            urllib.request.urlopen(base + "/healthz", timeout=1).close()  # noqa: S310 - loopback
            return process, base
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("gunicorn did not start; see " + str(workdir / "gunicorn.log"))


WRK_CPUS = ""  # set by --pin


def start_flusher(workdir: Path) -> subprocess.Popen:
    """The `flask usage flush --follow` service (for --flush external), on the same settings as the server."""
    log = open(workdir / "flusher.log", "wb")  # noqa: SIM115 - kept open for the process's lifetime
    env = {**os.environ, **SERVER_ENV, "FLASK_APP": "wsgi_bench:app"}
    return subprocess.Popen([sys.executable, "-m", "flask", "usage", "flush", "--follow"], cwd=ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT)


def process_cpu_seconds(pid: int) -> float:
    """CPU time (user + system) used so far by ``pid`` and its children that are still running."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    for each in [str(pid), *children]:
        try:
            fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def measured(server: subprocess.Popen, url: str, seconds: int, connections: int, headers: dict) -> dict:
    """wrk's figures plus the app server's CPU time per request (steadier than throughput on a busy VM)."""
    before = process_cpu_seconds(server.pid)
    result = wrk(url, seconds, connections, headers)
    used = process_cpu_seconds(server.pid) - before
    return {**result, "app_cpu_ms_per_request": round(used * 1000 / max(1, result["requests"]), 3)}


def median_round(rounds: list[tuple[dict, dict]]) -> tuple[dict, dict]:
    """The (bare, metered) pair whose throughput ratio is the median of the rounds, with every ratio."""
    ordered = sorted(rounds, key=lambda pair: pair[1]["rps"] / pair[0]["rps"])
    bare, metered = ordered[len(ordered) // 2]
    ratios = [round(m["rps"] / b["rps"], 3) for b, m in rounds]
    return bare, {**metered, "ratios_of_all_rounds": ratios}


def wrk(url: str, seconds: int, connections: int, headers: dict) -> dict:
    args = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency"]
    if WRK_CPUS:
        args = ["taskset", "-c", WRK_CPUS, *args]
    for name, value in headers.items():
        args += ["-H", f"{name}: {value}"]
    out = subprocess.run([*args, url], capture_output=True, text=True, timeout=seconds + 60).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    latency = {p: re.search(rf"\s{p}%\s+([\d.]+\w+)", out).group(1) for p in ("50", "75", "90", "99")}
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    total = int(re.search(r"(\d+) requests in", out).group(1))
    return {"rps": rps, "latency": latency, "requests": total, "non_2xx": int(non2xx.group(1)) if non2xx else 0}


def race(base: str, secret: str, credits: int, callers: int) -> dict:
    """``callers`` concurrent calls for ``credits`` credits (1 credit each)."""
    results: list[int] = []
    lock = threading.Lock()
    barrier = threading.Barrier(callers)

    def call():
        request = urllib.request.Request(base + "/api/v1/users/jack",
                                         headers={"Authorization": f"Bearer {secret}"})
        barrier.wait()
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - loopback
                status = response.status
        except urllib.error.HTTPError as exc:
            status = exc.code
        with lock:
            results.append(status)

    threads = [threading.Thread(target=call) for _ in range(callers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"200": results.count(200), "402": results.count(402), "other": len(results) - results.count(200)
            - results.count(402)}


def drain(url: str, metering: str, redis_url: str | None, prefix: str) -> int:
    """Write call records still in Redis (e.g. of a worker that was stopped) to the database."""
    if metering != "redis":
        return 0
    from app import create_app
    from app.metering.flush import flush_metered_calls
    from app.metering.services import get_meter

    app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": url, "REDIS_URL": redis_url,
                                 "RATELIMIT_KEY_PREFIX": prefix, "API_METERING": "redis"})
    with app.app_context():
        written = flush_metered_calls(get_meter())
        pending = app.extensions["twtapi_meter"].pending_count()
        from app.extensions import db

        db.engine.dispose()
    if pending:
        raise RuntimeError(f"{pending} call records are still in Redis")
    return written


def ledger_check(url: str) -> dict:
    """Every account's balance equals its ledger's sum, and every usage entry has its logged call."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as conn:
        mismatched = conn.execute(text(
            "SELECT count(*) FROM organisations o WHERE o.credit_balance <> "
            "(SELECT coalesce(sum(amount), 0) FROM credit_ledger c WHERE c.organisation_id = o.id)")).scalar()
        orphans = conn.execute(text(
            "SELECT count(*) FROM credit_ledger c WHERE c.kind = 'usage' AND NOT EXISTS "
            "(SELECT 1 FROM api_calls a WHERE a.request_id = c.call_id)")).scalar()
        unpaid = conn.execute(text(
            "SELECT count(*) FROM api_calls a WHERE a.credits > 0 AND NOT EXISTS "
            "(SELECT 1 FROM credit_ledger c WHERE c.call_id = a.request_id)")).scalar()
    engine.dispose()
    return {"balances_not_equal_to_ledger": mismatched, "charges_without_logged_call": orphans,
            "logged_charged_calls_without_ledger_row": unpaid}


def count_logged(url: str, secret: str) -> tuple[int, int]:
    from sqlalchemy import create_engine, text

    from app.security import hash_token

    engine = create_engine(url)
    with engine.connect() as conn:
        key_id = conn.execute(text("SELECT id FROM api_keys WHERE secret_hash = :h"),
                              {"h": hash_token(secret)}).scalar()
        charged = conn.execute(text("SELECT count(*) FROM api_calls WHERE key_id = :k AND credits > 0"),
                               {"k": key_id}).scalar()
        balance = conn.execute(text("SELECT credit_balance FROM organisations o JOIN api_keys k "
                                    "ON k.organisation_id = o.id WHERE k.id = :k"), {"k": key_id}).scalar()
    engine.dispose()
    return charged, balance


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", help="PostgreSQL URL to create a bench database in (default: SQLite)")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8, help="gthread threads per worker")
    parser.add_argument("--repeat", type=int, default=3, help="bare/metered rounds; the median ratio is reported")
    parser.add_argument("--breakdown", action="store_true",
                        help="also measure the gateway with a store-less meter (where the time goes)")
    parser.add_argument("--race-credits", type=int, default=50)
    parser.add_argument("--race-callers", type=int, default=200)
    parser.add_argument("--metering", choices=["redis", "database"], default="redis",
                        help="how calls are metered (default: redis, as in production)")
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/15")
    parser.add_argument("--flush", choices=["background", "external"], default="background",
                        help="who writes call records to the database: a thread in each worker, or the "
                             "`flask usage flush --follow` service in its own process (not pinned)")
    parser.add_argument("--pin", action="store_true",
                        help="gunicorn on CPU 0, the load generator on the others (Redis and the database "
                             "float): the app server's own cost, as when they run on other hosts")
    args = parser.parse_args()
    global WRK_CPUS
    app_cpus = ""
    if args.pin:
        app_cpus, WRK_CPUS = "0", f"1-{os.cpu_count() - 1}"
    redis_url = args.redis_url if args.metering == "redis" else None
    prefix = f"twtapi-bench-{uuid.uuid4().hex[:8]}"
    if not shutil.which("wrk"):
        sys.exit("wrk is needed: apt-get install -y wrk")

    workdir = Path(tempfile.mkdtemp(prefix="twtapi-bench-"))
    url, cleanup = prepare_database(args.database_url, workdir)
    load_key = make_customer(url, "load@example.com", 10_000_000)
    race_key = make_customer(url, "race@example.com", args.race_credits)
    server, base = start_server(url, args.workers, workdir, args.metering, redis_url, prefix, args.threads,
                                cpus=app_cpus, flush=args.flush)
    flusher = start_flusher(workdir) if args.flush == "external" and args.metering == "redis" else None
    minimal_server, minimal_base = start_server(url, args.workers, workdir, args.metering, redis_url, prefix,
                                                args.threads, cpus=app_cpus, module="wsgi_minimal")
    try:
        wrk(base + "/bench/bare", 2, args.connections, {})  # warm-up
        wrk(minimal_base + "/bench/bare", 2, args.connections, {})
        rounds, minimal_rounds = [], []
        for _ in range(args.repeat):  # alternate, so drift of a shared machine hits all alike
            minimal_rounds.append(measured(minimal_server, minimal_base + "/bench/bare", args.seconds,
                                           args.connections, {}))
            rounds.append((measured(server, base + "/bench/bare", args.seconds, args.connections, {}),
                           measured(server, base + "/api/v1/users/jack", args.seconds, args.connections,
                                    {"Authorization": f"Bearer {load_key}"})))
        bare, metered = median_round(rounds)
        minimal = sorted(minimal_rounds, key=lambda r: r["rps"])[len(minimal_rounds) // 2]
        raced = race(base, race_key, args.race_credits, args.race_callers)
    finally:
        for each in (server, minimal_server):
            each.terminate()
            each.wait(timeout=30)
        if flusher is not None:
            flusher.terminate()
            flusher.wait(timeout=30)
    breakdown = {}
    if args.breakdown:
        server, base = start_server(url, args.workers, workdir, args.metering, redis_url, prefix, args.threads,
                                    "gateway-only", app_cpus)
        try:
            wrk(base + "/api/v1/users/jack", 2, args.connections, {"Authorization": f"Bearer {load_key}"})
            only = measured(server, base + "/api/v1/users/jack", args.seconds, args.connections,
                       {"Authorization": f"Bearer {load_key}"})
        finally:
            server.terminate()
            server.wait(timeout=30)
        breakdown = {"gateway_without_metering_store": only, "ratio_to_bare": round(only["rps"] / bare["rps"], 3)}
    drained = drain(url, args.metering, redis_url, prefix)
    logged, balance = count_logged(url, race_key)
    charged_load, load_balance = count_logged(url, load_key)
    ledger = ledger_check(url)
    cleanup()
    report = {
        "database": "PostgreSQL" if args.database_url else "SQLite", "metering": args.metering,
        "workers": args.workers, "threads": args.threads, "pinned": args.pin, "flush": args.flush,
        "connections": args.connections, "seconds": args.seconds,
        "bare": bare, "metered": metered, "throughput_ratio": round(metered["rps"] / bare["rps"], 3),
        "minimal_flask": minimal, "ratio_to_minimal_flask": round(metered["rps"] / minimal["rps"], 3),
        "app_cpu_ratio_to_minimal_flask": round(minimal["app_cpu_ms_per_request"]
                                                / metered["app_cpu_ms_per_request"], 3),
        "app_cpu_ratio": round(bare["app_cpu_ms_per_request"] / metered["app_cpu_ms_per_request"], 3),
        "metered_calls_logged_and_charged": charged_load,
        "no_call_lost": charged_load == 10_000_000 - load_balance and not any(ledger.values()),
        "records_written_after_stop": drained, "ledger": ledger,
        "breakdown": breakdown,
        "race": {**raced, "credits": args.race_credits, "callers": args.race_callers,
                 "logged_charged_calls": logged, "balance_after": balance,
                 "exact": raced["200"] == args.race_credits == logged and balance == 0},
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
