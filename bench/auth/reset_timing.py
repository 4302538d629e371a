"""Does a password-reset request tell, by its timing, whether an account exists?

Builds the app on a fresh SQLite database with one account, then posts /reset-password for the
known address and for unknown ones, alternating, through the WSGI stack in-process (no network).
Mail goes to a server that accepts connections and never answers: with requests writing only the
outbox, neither answer may wait for it. Prints medians and the ratio (1.0: no oracle).

    .venv/bin/python bench/auth/reset_timing.py [--rounds 200]
"""

from __future__ import annotations

import argparse
import json
import re
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from flask_migrate import upgrade  # noqa: E402

from app import create_app  # noqa: E402
from app.extensions import db  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    hanging = socket.socket()
    hanging.bind(("127.0.0.1", 0))
    hanging.listen(64)
    connections: list = []
    def accept_forever():
        while True:
            connections.append(hanging.accept())

    threading.Thread(target=accept_forever, daemon=True).start()
    folder = tempfile.mkdtemp()
    app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder}/bench.sqlite",
                                 "MAIL_DELIVERY": "queue", "MAIL_URL": f"smtp://127.0.0.1:{hanging.getsockname()[1]}",
                                 "RESET_RATE_LIMIT": "100000 per hour"})
    with app.app_context():
        upgrade()
        from app.auth.services import register

        with app.test_request_context():
            register("known@example.com", "correct horse battery staple", None, "en", app.config, _now())
            db.session.commit()
    client = app.test_client()
    page = client.get("/reset-password").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    timings: dict[str, list[float]] = {"known": [], "unknown": []}
    for n in range(args.rounds):
        for kind in ("known", "unknown"):
            address = "known@example.com" if kind == "known" else f"nobody{n}@example.com"
            started = time.perf_counter()
            response = client.post("/reset-password", data={"csrf_token": token, "email": address},
                                   headers={"Origin": "http://localhost"})
            timings[kind].append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, response.status_code
    known, unknown = (statistics.median(timings[k]) for k in ("known", "unknown"))
    print(json.dumps({"rounds": args.rounds, "known_median_ms": round(known, 2),
                      "unknown_median_ms": round(unknown, 2), "ratio_known_to_unknown": round(known / unknown, 2),
                      "smtp_connections_during_requests": len(connections)}, indent=2))


def _now():
    from app.timeutil import utcnow

    return utcnow()


if __name__ == "__main__":
    main()
