"""The real application for the benchmark, plus one bare endpoint to compare with.

The bare endpoint goes through the same gunicorn, the same Flask app and the same request hooks,
but does no key check, no rate limit, no charge and no logging.
"""

import os
from dataclasses import replace

from flask import jsonify

from app import create_app
from app.pricing import DEFAULT_PRICING
from app.security import public

app = create_app("development", {
    "SQLALCHEMY_DATABASE_URI": os.environ["BENCH_DATABASE_URL"],
    # One key may make as many calls as the load generator sends: the limiter still runs.
    "PRICING": replace(DEFAULT_PRICING, rate_limit_per_minute=10_000_000),
    "MAIL_DIR": os.environ.get("BENCH_MAIL_DIR", "/tmp/twtapi-bench-mail"),
    "LOG_LEVEL": "WARNING",
})


@app.get("/bench/bare")
@public
def bare():
    """The comparison: a JSON answer with nothing metered."""
    return jsonify({"data": {"username": "jack"}, "meta": {"demo": True}})
