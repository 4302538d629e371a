"""Start-up time: importing the app and running ``create_app`` in a fresh interpreter, against a
bare Flask app, in alternating rounds (medians with min and max, and peak RSS).

    .venv/bin/python bench/startup.py [--rounds 7]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CASES = {
    "app": "from app import create_app; create_app('development')",
    "bare_flask": "import flask; flask.Flask('bare')",
}


def once(code: str) -> tuple[float, int]:
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code + "; import resource; "
                          "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"],
                         cwd=ROOT, capture_output=True, text=True, check=True)
    return time.perf_counter() - started, int(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    times: dict[str, list[float]] = {name: [] for name in CASES}
    rss: dict[str, int] = {}
    for _ in range(args.rounds):
        for name, code in CASES.items():
            seconds, kib = once(code)
            times[name].append(seconds)
            rss[name] = max(rss.get(name, 0), kib)
    report = {name: {"median_s": round(statistics.median(t), 3), "min_s": round(min(t), 3),
                     "max_s": round(max(t), 3), "peak_rss_mb": round(rss[name] / 1024, 1)}
              for name, t in times.items()}
    report["ratio_median"] = round(report["app"]["median_s"] / report["bare_flask"]["median_s"], 2)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
