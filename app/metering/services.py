"""Choosing the meter, and the one balance reader.

``API_METERING`` chooses (``database`` | ``redis``); by default ``redis`` when ``REDIS_URL`` is set.
No request access here: the gateway view passes what it read from the request.
"""

from __future__ import annotations

from flask import Flask, current_app

from app.extensions import db
from app.metering.database_meter import DatabaseMeter
from app.metering.hooks import uncommitted_change
from app.metering.lookups import stored_balance
from app.metering.redis_meter import RedisMeter
from app.metering.types import Meter, MeteringUnavailable


def register_metering(app: Flask) -> None:
    """Choose the meter for this application (``API_METERING``, default by ``REDIS_URL``)."""
    mode = app.config.get("API_METERING") or ("redis" if app.config.get("REDIS_URL") else "database")
    if mode == "redis":
        if not app.config.get("REDIS_URL"):
            raise RuntimeError("API_METERING=redis needs REDIS_URL")
        meter = RedisMeter.from_config(app)
    elif mode == "database":
        meter = DatabaseMeter()
    else:
        raise RuntimeError(f"API_METERING must be 'database' or 'redis', not {mode!r}")
    app.extensions["twtapi_meter"] = meter


def get_meter() -> Meter:
    """The current application's meter (a DatabaseMeter or a RedisMeter)."""
    return current_app.extensions["twtapi_meter"]


def balance(organisation_id: int, spendable: bool = True) -> int:
    """An account's balance. ``spendable``: what it can spend now, this transaction's own changes
    included; with the Redis meter that also counts charges not yet written to the database.
    Without it: the balance stored in the database (what the ledger sums to)."""
    if not spendable:
        return stored_balance(db.session, organisation_id)
    meter = get_meter()
    if meter.name == "redis":  # Redis sees committed changes only: add this transaction's own
        return meter.balance(organisation_id) + uncommitted_change(organisation_id)
    return meter.balance(organisation_id)


def shown_balance(organisation_id: int) -> int:
    """The balance a page shows: the spendable one, as the API's ``X-Credits-Remaining`` says;
    the stored one when the meter's store cannot be reached (a page never fails for it)."""
    try:
        return balance(organisation_id)
    except MeteringUnavailable:
        return balance(organisation_id, spendable=False)

