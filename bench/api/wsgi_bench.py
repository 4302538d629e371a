"""The real application for the benchmark, plus one bare endpoint to compare with.

The bare endpoint goes through the same gunicorn, the same Flask app and the same request hooks
and answers with the same demo data as the metered ``/api/v1/users/jack``, but does no key check,
no rate limit, no charge and no logging: the difference between the two is the metering.
"""

import os
from dataclasses import replace

from flask import jsonify

from app import create_app
from app.api import demo
from app.pricing import DEFAULT_PRICING
from app.security import public

app = create_app("development", {
    "SQLALCHEMY_DATABASE_URI": os.environ["BENCH_DATABASE_URL"],
    "REDIS_URL": os.environ.get("BENCH_REDIS_URL") or None,
    "RATELIMIT_STORAGE_URI": os.environ.get("BENCH_REDIS_URL") or "memory://",
    "RATELIMIT_KEY_PREFIX": os.environ.get("BENCH_PREFIX", "twtapi-bench"),
    "API_METERING": os.environ["BENCH_METERING"],
    "METERING_FLUSH": os.environ.get("BENCH_FLUSH", "background"),
    # One key may make as many calls as the load generator sends: the limiter still runs.
    "PRICING": replace(DEFAULT_PRICING, rate_limit_per_minute=10_000_000),
    "MAIL_DIR": os.environ.get("BENCH_MAIL_DIR", "/tmp/twtapi-bench-mail"),
    "LOG_LEVEL": "WARNING",
})


@app.get("/bench/bare")
@public
def bare():
    """The comparison: the same answer as the metered call, with nothing metered."""
    return jsonify(demo.respond("/api/v1/users/{username}", {"username": "jack"}, {"q": ""}))


if os.environ.get("BENCH_VARIANT") == "gateway-only":
    # Diagnostic (run.py --breakdown): the gateway view with a meter that decides without any
    # store, to separate the view's own cost from the metering round trip and the log writes.
    from app.metering.types import Outcome

    _meter = app.extensions["twtapi_meter"]
    _meter.check = lambda key, limit, price, record, now: Outcome(200, 0, 1_000_000, limit, limit - 1, 60)
    _meter.settle = lambda key, limit, price, status, record, now, checked=None: Outcome(
        status, price, 1_000_000, limit, limit - 1, 60)
    _meter.after_call = lambda: None

if os.environ.get("BENCH_VARIANT") == "no-flusher":
    # Diagnostic: records stay in Redis during the load (run.py writes them afterwards).
    app.extensions["twtapi_meter"].after_call = lambda: None
