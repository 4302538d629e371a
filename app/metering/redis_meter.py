"""Metering in Redis: one atomic script per API call, the database written in batches.

Accounts are spread over ``METERING_SHARDS`` groups; every name of group ``s`` starts with
``<RATELIMIT_KEY_PREFIX>:meter:{s}:``. The braces are a Redis Cluster hash tag: all of a group's keys
live in one hash slot, so each script (which touches an account's balance, its key's window, its
group's pending sums and stream together) runs on one node. An organisation (the account that
owns the balance every member's keys spend) belongs to group ``organisation id % METERING_SHARDS``. In each group:

- ``epoch``: the key-cache generation, a random value. Any change that can stop a key (revoke,
  rotate, suspend, close, erase) replaces every group's after its commit; a process whose cached key
  is older reloads it from the database before it serves the call, so a revoked key stops on its
  next request.
- ``bal:<org>``: the spendable balance: the database balance minus charges not yet written there.
  Loaded ("primed") from the database when missing; ``gen:<org>`` guards the load against a
  concurrent flush or balance change, ``hold:<org>`` against a debit being committed.
- ``pend``: per organisation, the credits charged in Redis and not yet in the database.
- ``rl:<key>:<minute>``: the per-key sliding window (two fixed windows, weighted).
- ``kd:<key>:<day>``, ``km:<key>:<month>``, ``um:<org>:<month>``: credits spent by a key today
  and this month, and by the organisation this month, for the caps and the spend limit; loaded from
  the daily roll-ups plus ``pendk`` (per key, credits charged here and not yet flushed) when a
  cap needs one, then kept by every charge while they exist.
- ``calls``: a stream of call records; ``app/metering/flush.py`` moves them (from every group) to
  the call log, the credit ledger, the balance and the daily roll-ups in one transaction per batch,
  then acknowledges them here. A record is acknowledged only after its batch is committed, and the
  database skips a second copy (unique request id and time), so a crash loses nothing and counts nothing
  twice, provided Redis itself keeps its data (see docs/deployment.md: append-only file).
"""

from __future__ import annotations

import math
import os
import secrets
import threading
import time
from datetime import datetime

import redis
from flask import Flask
from redis.cluster import RedisCluster

from app.extensions import db
from app.metering import hooks
from app.metering.caps import resets_at, seconds_until
from app.metering.flush import consumer_name, flush_all, run_flusher
from app.metering.lookups import find_key_by_hash, key_info, looks_like_key, spent, stored_balance
from app.metering.resp import ScriptCaller
from app.metering.scripts import ACK, METER, PRIME, PRIMECAP, TAKE
from app.metering.streams import RecordStreams
from app.metering.types import (
    WINDOW_SECONDS,
    CallRecord,
    Charge,
    KeyChanged,
    KeyInfo,
    MeteringUnavailable,
    Outcome,
)
from app.redis_store import connect
from app.security import hash_token
from app.uow import commit_now

WINDOW_MS = WINDOW_SECONDS * 1000
BALANCE_TTL_SECONDS = 600  # a balance is reloaded at least this often
HOLD_MS = 30_000
DAY_COUNTER_TTL = 2 * 86_400  # a day's counter outlives its day; a month's its month
MONTH_COUNTER_TTL = 35 * 86_400

class RedisMeter(RecordStreams):
    name = "redis"

    def __init__(self, client: redis.Redis | RedisCluster, prefix: str, key_cache_seconds: float = 60,
                 flush: str = "background", flush_interval: float = 0.1, batch: int = 1000, shards: int = 1):
        self.redis = client
        self.prefix = prefix + ":meter:"
        self.shards = shards
        self.key_cache_seconds = key_cache_seconds
        self.flush_mode = flush
        self.flush_interval = flush_interval
        self.batch = batch
        self._keys: dict[str, KeyInfo] = {}
        self._loaded: dict[str, float] = {}
        self._scripts = {name: client.register_script(text) for name, text in (
            ("meter", METER), ("prime", PRIME), ("primecap", PRIMECAP), ("take", TAKE), ("ack", ACK))}
        self._meter_call = self._scripts["meter"]  # replaced by a ScriptCaller in from_config
        self._flusher_pid: int | None = None
        self._flusher_lock = threading.Lock()
        self.stopped = threading.Event()  # set by close(): the flusher thread ends
        self._groups_ready: set[int] = set()
        self._next_shard = 0  # where the next read of the streams starts, so no group waits behind another
        self.app: Flask | None = None

    @classmethod
    def from_config(cls, app: Flask) -> RedisMeter:
        cfg = app.config
        client = connect(cfg["REDIS_URL"], decode_responses=True, socket_timeout=5, socket_connect_timeout=2,
                         health_check_interval=30)
        meter = cls(client, cfg["RATELIMIT_KEY_PREFIX"], cfg["KEY_CACHE_SECONDS"], cfg["METERING_FLUSH"],
                    cfg["METERING_FLUSH_INTERVAL_SECONDS"], cfg["METERING_FLUSH_BATCH"], cfg["METERING_SHARDS"])
        meter.app = app
        if not isinstance(client, RedisCluster):  # a cluster's client routes each script to its slot's node
            meter._meter_call = ScriptCaller(cfg["REDIS_URL"], METER)
        return meter

    def group(self, organisation_id: int) -> str:
        """The start of every name in the group of ``organisation_id``'s account."""
        return self.group_prefix(organisation_id % self.shards)

    def group_prefix(self, shard: int) -> str:
        return f"{self.prefix}{{{shard}}}:"

    def close(self, forget: bool = False) -> None:
        """Stop the flusher and close the connections; ``forget`` also deletes everything under this
        meter's prefix (tests)."""
        self.stopped.set()
        if forget:
            try:
                for name in self.redis.scan_iter(match=self.prefix + "*", count=1000):
                    self.redis.delete(name)
            except redis.RedisError:
                pass  # nothing to forget where nothing was stored
        if isinstance(self._meter_call, ScriptCaller):
            self._meter_call.close()
        self.redis.close()
        if not isinstance(self.redis, RedisCluster):  # a cluster client's close() closes its nodes' pools
            self.redis.connection_pool.disconnect()

    # --- keys ------------------------------------------------------------------------------

    def _epoch(self, organisation_id: int) -> str:
        """The current generation of the account's group: a random value, so it never repeats, even
        when Redis restarts empty (a counter would start again at a value some process may still
        have cached)."""
        name = self.group(organisation_id) + "epoch"
        self.redis.set(name, new_epoch(), nx=True)
        return self.redis.get(name) or ""

    def find_key(self, secret: str, now: datetime) -> KeyInfo | None:
        if not looks_like_key(secret):
            return None
        digest = hash_token(secret)
        info = self._keys.get(digest)
        if info is None or time.monotonic() - self._loaded.get(digest, 0) > self.key_cache_seconds:
            info = self._load_key(digest, now, info.organisation_id if info else None)
        return info  # perhaps expired: the gateway says so

    def current_key(self, key: KeyInfo, now: datetime) -> KeyInfo | None:
        """``key`` as it is now: read again when its group's epoch moved since it was cached (one
        Redis read; asked only before refusing a call on the cached key's controls)."""
        try:
            if self._epoch(key.organisation_id) == key.epoch:
                return key
        except redis.RedisError as exc:
            raise MeteringUnavailable(str(exc)) from exc
        return self._load_key(key.secret_hash, now, key.organisation_id)

    def _load_key(self, digest: str, now: datetime, organisation_id: int | None = None) -> KeyInfo | None:
        """Read the key from the database under its group's current epoch. The epoch is read first,
        so a change committed after the key was read shows as a newer epoch; a key not seen before is
        read once more to learn its account (and so its group)."""
        if organisation_id is None:
            loaded = self._read_key(digest, now)
            if loaded is None:
                return None
            organisation_id = loaded.organisation_id
        try:
            epoch = self._epoch(organisation_id)
        except redis.RedisError as exc:
            raise MeteringUnavailable(str(exc)) from exc
        loaded = self._read_key(digest, now)
        if loaded is None:
            return None
        if len(self._keys) > 50_000:
            self._keys.clear()
        info = key_info(loaded, epoch, digest)
        self._keys[digest] = info
        self._loaded[digest] = time.monotonic()
        return info

    def _read_key(self, digest: str, now: datetime):
        db.session.rollback()  # end any read transaction: the key must be read as committed now
        loaded = find_key_by_hash(digest)
        if loaded is None:
            self._keys.pop(digest, None)
        return loaded

    def bump_epoch(self) -> None:
        """After a commit that may stop keys: every process reloads its cached keys."""
        pipe = self.redis.pipeline(transaction=False)
        for shard in range(self.shards):
            pipe.set(self.group_prefix(shard) + "epoch", new_epoch())
        pipe.execute()

    # --- one call --------------------------------------------------------------------------

    def check(self, key: KeyInfo, limit: int, price: int, record: CallRecord, now: datetime) -> Outcome:
        """See ``types.Meter.check``. Raises KeyChanged when the key stopped working meanwhile."""
        return self._meter(key, limit, price, 200, record, now, count=1, settled=0)

    def settle(self, key: KeyInfo, limit: int, price: int, status: int, record: CallRecord, now: datetime,
               checked: Outcome | None = None) -> Outcome:
        """See ``types.Meter.settle``. Raises KeyChanged when the key stopped working meanwhile."""
        return self._meter(key, limit, price, status, record, now, count=int(checked is None), settled=1)

    def _meter(self, key: KeyInfo, limit: int, price: int, status: int, record: CallRecord, now: datetime, *,
               count: int, settled: int) -> Outcome:
        """One run of the metering script (``scripts.py``), whose ``count`` and ``commit`` arguments
        are 1 or 0: count the call against the window; settle it: charge and log it (else log only a refusal)."""
        try:
            for _ in range(5):
                result = self._run_meter(key, limit, price, status, count, settled, record)
                if result[0] == "ok":
                    return self._outcome(key, result, limit, now)
                if result[0] == "stale":
                    self._keys.clear()
                    fresh = self._load_key(key.secret_hash, now, key.organisation_id)
                    if fresh is None or not fresh.usable(now) or not fresh.same_controls(key):
                        raise KeyChanged()  # the gateway checks the key again as it is now
                    key = fresh
                elif result[0] == "primecap":
                    db.session.close()
                    self._prime_caps(key, record.created_at)
                else:  # "prime"
                    db.session.close()  # nothing to keep: hold one database connection at a time
                    self._prime(key.organisation_id)
        except redis.RedisError as exc:
            raise MeteringUnavailable(str(exc)) from exc
        raise MeteringUnavailable("the balance kept changing while it was loaded")

    def _run_meter(self, key: KeyInfo, limit: int, price: int, status: int, count: int, settled: int,
                   record: CallRecord):
        now_ms = int(time.time() * 1000)
        window = now_ms // WINDOW_MS
        group = self.group(key.organisation_id)
        rl = f"{group}rl:{key.id}:"
        keys = [group + "epoch", f"{group}bal:{key.organisation_id}", group + "pend", f"{rl}{window}",
                f"{rl}{window - 1}", group + "calls", *self._counters(key, record.created_at), group + "pendk"]
        args = [key.epoch, key.organisation_id, price, limit, now_ms % WINDOW_MS, WINDOW_MS, count, settled, status,
                record.pack(key.organisation_id, key.id), key.id, key.daily_cap or 0, key.monthly_cap or 0,
                key.spend_limit or 0]
        return self._meter_call(keys=keys, args=args)

    def _counters(self, key: KeyInfo, now: datetime) -> list[str]:
        """The names of the key's credits today and this month, and the account's this month."""
        group = self.group(key.organisation_id)
        return [f"{group}kd:{key.id}:{now:%Y%m%d}", f"{group}km:{key.id}:{now:%Y%m}",
                f"{group}um:{key.organisation_id}:{now:%Y%m}"]

    def _prime_caps(self, key: KeyInfo, now: datetime) -> None:
        """Load the credit counters from the daily roll-ups, adding what Redis charged and the
        database does not hold yet; ``gen`` (moved by every flush and balance change) guards against
        a flush between the read and the load."""
        group = self.group(key.organisation_id)
        keys = [*self._counters(key, now), f"{group}gen:{key.organisation_id}", group + "pend", group + "pendk"]
        for _ in range(300):
            gen = self.redis.get(keys[3]) or "0"
            with db.engine.connect() as conn:
                sums = spent(conn, key.organisation_id, key.id, now.date())
            result = self._scripts["primecap"](keys=keys, args=[gen, *sums, key.organisation_id, key.id,
                                                                DAY_COUNTER_TTL, MONTH_COUNTER_TTL])
            if result[0] == "ok":
                return
            time.sleep(0.01)  # a flush moved credits from Redis to the database meanwhile: read again
        raise MeteringUnavailable("the credit counters could not be loaded")

    def _outcome(self, key: KeyInfo, result, limit: int, now: datetime) -> Outcome:
        _, status, credits, balance, cur, prev, capped_by, cap, used, day_used, month_used = result
        elapsed = time.time() * 1000 % WINDOW_MS
        weighted = prev * (WINDOW_MS - elapsed) / WINDOW_MS + cur
        remaining = max(0, limit - math.ceil(weighted))
        reset = math.ceil((WINDOW_MS - elapsed) / 1000)
        retry_after = 0
        if capped_by:
            retry_after = seconds_until(resets_at(capped_by, now), now)
        elif status == 429:
            retry_after = self._retry_after(limit, cur, prev, elapsed)
        day_used = int(day_used) if int(day_used) >= 0 else None
        month_used = int(month_used) if int(month_used) >= 0 else None
        if credits and hooks.charged(Charge(key, int(credits), balance + credits, balance, day_used, month_used)):
            # A listener wrote (the low-credit e-mail): committed now, because the call's flush
            # writes on a connection of its own and would wait for this transaction's lock.
            commit_now("the charge's listeners' writes, before the flush's own connection writes")
        return Outcome(int(status), int(credits), int(balance), limit, remaining, reset, retry_after, capped_by or "",
                       int(cap), int(used), day_used, month_used)

    @staticmethod
    def _retry_after(limit: int, cur: int, prev: int, elapsed: float) -> int:
        """Seconds until the weighted count leaves room for one more call."""
        if cur + 1 > limit:  # wait for the next window, where this one's count decays
            wait = (WINDOW_MS - elapsed) + WINDOW_MS * (1 - (limit - 1) / cur)
        else:
            wait = WINDOW_MS - (limit - 1 - cur) * WINDOW_MS / prev - elapsed
        return max(1, math.ceil(wait / 1000))

    # --- balances --------------------------------------------------------------------------

    def balance(self, organisation_id: int) -> int:
        """The spendable balance (the database balance minus charges not yet written there)."""
        try:
            value = self.redis.get(f"{self.group(organisation_id)}bal:{organisation_id}")
            return int(value) if value is not None else self._prime(organisation_id)
        except redis.RedisError as exc:
            raise MeteringUnavailable(str(exc)) from exc

    def _prime(self, organisation_id: int) -> int:
        group = self.group(organisation_id)
        names = [f"{group}{part}:{organisation_id}" for part in ("bal", "gen")]
        keys = [names[0], names[1], group + "pend", f"{group}hold:{organisation_id}"]
        for _ in range(300):
            gen = self.redis.get(names[1]) or "0"
            with db.engine.connect() as conn:  # a fresh connection: the balance as committed now
                stored = stored_balance(conn, organisation_id)
            result = self._scripts["prime"](keys=keys, args=[gen, stored, organisation_id, BALANCE_TTL_SECONDS])
            if result[0] == "ok":
                return int(result[1])
            if result[0] == "busy":  # a debit is being committed: wait for it
                time.sleep(0.01)
        raise MeteringUnavailable("the balance could not be loaded")

    def take(self, organisation_id: int, amount: int, uncommitted: int = 0) -> int | None:
        """Reserve a debit before it is committed; the balance left, or None when it is short.

        ``uncommitted``: credits the same transaction added (not visible to Redis until it commits;
        the balance is reloaded then).
        """
        keys = [f"{self.group(organisation_id)}{part}:{organisation_id}" for part in ("bal", "gen", "hold")]
        for _ in range(5):
            result = self._scripts["take"](keys=keys, args=[amount, HOLD_MS, max(0, uncommitted)])
            if result[0] == "ok":
                return int(result[1])
            if result[0] == "short":
                return None
            self._prime(organisation_id)
        raise MeteringUnavailable("the balance could not be loaded")

    def invalidate_balances(self, user_ids) -> None:
        """After a balance change is committed or rolled back: reload from the database next time."""
        pipe = self.redis.pipeline(transaction=False)
        for organisation_id in user_ids:
            group = self.group(organisation_id)
            pipe.delete(f"{group}bal:{organisation_id}")
            pipe.delete(f"{group}hold:{organisation_id}")
            pipe.incr(f"{group}gen:{organisation_id}")
            pipe.expire(f"{group}gen:{organisation_id}", 172_800)
        pipe.execute()


    def after_call(self) -> None:
        """Write the records to the database now (``inline``), make sure this process's flusher thread
        runs (``background``), or leave them to the flusher service (``external``)."""
        if self.flush_mode == "inline":
            flush_all(self, f"{consumer_name()}-{threading.get_ident()}")
        elif self.flush_mode == "background":
            self._start_flusher()
        # "external": the `flask usage flush --follow` service writes them

    def _start_flusher(self) -> None:
        if self._flusher_pid == os.getpid():
            return
        with self._flusher_lock:
            if self._flusher_pid == os.getpid():
                return
            self._flusher_pid = os.getpid()
            threading.Thread(target=run_flusher, args=(self.app, self), name="twtapi-flusher", daemon=True).start()


def new_epoch() -> str:
    return secrets.token_hex(8)
