"""How the rest of the application and the meter tell each other about changes.

- Upwards, without an import: a domain registers what should happen after a charge
  (``on_charge``; billing registers the low-credit e-mail), and the meters call ``charged``.
- Downwards: a transaction that changes a balance outside the gateway says so
  (``balances_changed``); one that changes a key or its owner is noticed by the session events
  below. Once it ends, the Redis meter reloads those balances and every process its cached keys.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import redis
from flask import Flask, current_app, has_app_context
from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

from app.auth.models import User
from app.extensions import db
from app.keys.models import ApiKey
from app.metering.types import Charge
from app.organisations.models import Organisation

log = logging.getLogger(__name__)
ChargeListener = Callable[[Charge], bool]  # -> True when it wrote to the session


def on_charge(app: Flask, listener: ChargeListener) -> None:
    """Call ``listener`` after every charge of a metered call, in the call's transaction."""
    app.extensions.setdefault("twtapi_charge_listeners", []).append(listener)


def charged(charge: Charge) -> bool:
    """Tell the listeners a call was charged (the balance before and after, the key's use); True
    when one of them wrote to the session (the caller commits)."""
    wrote = False
    for listener in current_app.extensions.get("twtapi_charge_listeners", ()):
        wrote = listener(charge) or wrote
    return wrote


def balances_changed(organisation_id: int, amount: int = 0) -> int:
    """Call when a transaction changes a balance outside the gateway: once it ends, the Redis
    meter reloads that balance from the database. Returns the transaction's change so far."""
    changes = db.session.info.setdefault("twtapi_balances_changed", {})
    changes[organisation_id] = changes.get(organisation_id, 0) + amount
    return changes[organisation_id]


def uncommitted_change(organisation_id: int) -> int:
    """Credits this transaction added to (or took from) the balance, not yet committed."""
    return db.session.info.get("twtapi_balances_changed", {}).get(organisation_id, 0)


@event.listens_for(Session, "before_flush")
def _watch_keys(session, _context, _instances) -> None:
    """A changed or deleted key, a key's maker suspended, closed or erased, an organisation
    suspended or closed, or a change of its spend limit or alert levels (which keys carry) may
    change what keys do:
    once the transaction commits, every process drops the keys it has cached (RedisMeter)."""
    for obj in (*session.dirty, *session.deleted):
        if isinstance(obj, ApiKey) or (isinstance(obj, User) and _changed(inspect(obj), _PERSON)) \
                or (isinstance(obj, Organisation) and _changed(inspect(obj), _ORGANISATION)):
            session.info["twtapi_keys_changed"] = True
            return


_PERSON = ("suspended_at", "minor_flagged_at", "closed_at", "erased_at")
_ORGANISATION = ("suspended_at", "closed_at", "monthly_spend_limit", "alert_levels")


def _changed(state, names: tuple[str, ...]) -> bool:
    return any(state.attrs[name].history.has_changes() for name in names)


@event.listens_for(Session, "do_orm_execute")
def _watch_bulk_key_changes(execute_state) -> None:
    if (execute_state.is_update or execute_state.is_delete) and execute_state.bind_mapper is not None \
            and execute_state.bind_mapper.class_ is ApiKey:
        execute_state.session.info["twtapi_keys_changed"] = True


@event.listens_for(Session, "after_commit")
def _after_commit(session) -> None:
    _tell_meter(session, committed=True)


@event.listens_for(Session, "after_rollback")
def _after_rollback(session) -> None:
    _tell_meter(session, committed=False)


def _tell_meter(session, committed: bool) -> None:
    users = session.info.pop("twtapi_balances_changed", None)
    keys_changed = session.info.pop("twtapi_keys_changed", False)
    if not (users or keys_changed) or not has_app_context():
        return
    meter = current_app.extensions.get("twtapi_meter")
    if getattr(meter, "name", None) != "redis":
        return
    try:
        if users:
            meter.invalidate_balances(users)
        if keys_changed and committed:
            meter.bump_epoch()
    except redis.RedisError:  # the change is committed; cached state heals (balances expire, keys reload)
        log.exception("could not tell the Redis meter about a committed change")
