"""The per-call Redis round trip: the project's ScriptCaller (one blocking socket per thread,
hiredis parsing) against redis-py with hiredis and one connection per thread, on the meter's
own Lua script. Reports client CPU time per call (process time over calls; steadier than wall
time on a shared VM) and calls a second, for 8 threads, in alternating rounds.

    .venv/bin/python bench/api/redis_client.py [--redis-url redis://127.0.0.1:6379/15] [--calls 20000]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
from pathlib import Path

import redis

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from app.metering.resp import ScriptCaller  # noqa: E402
from app.metering.scripts import METER  # noqa: E402

PREFIX = "bench-client:"


def _args(i: int):
    keys = [PREFIX + "epoch", f"{PREFIX}bal:{i}", PREFIX + "pend", f"{PREFIX}rl:{i}:1", f"{PREFIX}rl:{i}:0",
            PREFIX + "stream-unused"]
    # commit=0 and price 0: the script counts the window and returns, writing no stream entry
    return keys, ["e", i, 0, 10**9, 1000, 60000, 1, 0, 200, "r"]


def _prepare(url: str, threads: int) -> None:
    client = redis.Redis.from_url(url)
    client.set(PREFIX + "epoch", "e")
    for i in range(threads):
        client.set(f"{PREFIX}bal:{i}", 10**9)
    client.close()


def run(kind: str, url: str, threads: int, calls: int) -> dict:
    def worker(i: int):
        keys, argv = _args(i)
        if kind == "scriptcaller":
            call = ScriptCaller(url, METER)
            for _ in range(calls):
                call(keys=keys, args=argv)
            call.close()
        else:
            client = redis.Redis.from_url(url, decode_responses=True, max_connections=1)
            script = client.register_script(METER)
            for _ in range(calls):
                script(keys=keys, args=argv)
            client.close()

    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    cpu, wall = time.process_time(), time.perf_counter()
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    total = threads * calls
    return {"cpu_us_per_call": round(cpu / total * 1e6, 1), "calls_per_second": round(total / wall)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/15")
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--calls", type=int, default=5000, help="per thread and round")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    _prepare(args.redis_url, args.threads)
    rounds = {"scriptcaller": [], "redis-py": []}
    for _ in range(args.repeat):
        for kind in rounds:
            rounds[kind].append(run(kind, args.redis_url, args.threads, args.calls))
    report = {kind: {"cpu_us_per_call_median": statistics.median(r["cpu_us_per_call"] for r in rs),
                     "calls_per_second_median": statistics.median(r["calls_per_second"] for r in rs), "rounds": rs}
              for kind, rs in rounds.items()}
    report["redis_py_cpu_ratio"] = round(report["redis-py"]["cpu_us_per_call_median"]
                                         / report["scriptcaller"]["cpu_us_per_call_median"], 2)
    print(json.dumps(report, indent=2))
    client = redis.Redis.from_url(args.redis_url)
    for name in client.scan_iter(match=PREFIX + "*"):
        client.delete(name)


if __name__ == "__main__":
    main()
