"""Moving metered call records from Redis to the database, in batches (``API_METERING=redis``).

One transaction per batch writes the call log, the usage ledger rows, the balances and the daily
roll-ups (``write.write_records``, the database meter's own write path); the records are
acknowledged in Redis only after it commits. A record written twice (a crash between the commit
and the acknowledgement, or two flushers racing for it) is skipped by the insert itself (ON
CONFLICT DO NOTHING on the unique request id and time), so nothing is lost or counted twice.

``METERING_FLUSH`` says who flushes: a thread in each application process (``background``, started
by its first metered call), the ``flask usage flush --follow`` service (``external``) or the request
itself (``inline``, tests). ``flask usage flush`` drains what is left, including records a process
that died was holding (run it from cron).
"""

from __future__ import annotations

import atexit
import logging
import os
import socket
import time

import redis
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from app.extensions import db
from app.metering.types import MeteringUnavailable, unpack
from app.metering.write import write_records

log = logging.getLogger(__name__)
CLAIM_IDLE_MS = 30_000  # records a flusher has held this long without acknowledging are taken over


def consumer_name() -> str:
    """This process's name in the stream's consumer group."""
    return f"{socket.gethostname()}-{os.getpid()}"


def flush_once(meter, consumer: str, block_ms: int | None = None, claim_idle_ms: int | None = None) -> int:
    """Write one batch of records to the database and acknowledge it; the number of records."""
    entries = meter.read_records(consumer, meter.batch, block_ms=block_ms, claim_idle_ms=claim_idle_ms)
    if not entries:
        return 0
    records = [unpack(fields) for *_, fields in entries]
    for attempt in range(3):
        try:
            with db.engine.begin() as conn:
                write_records(conn, records)
            break
        except IntegrityError:  # a ledger row of a call written meanwhile (belt and braces): try again
            if attempt == 2:
                raise
    meter.acknowledge([(shard, entry_id, r["organisation_id"], r["key_id"] or "", r["credits"])
                       for (shard, entry_id, _), r in zip(entries, records, strict=True)])
    return len(entries)


def flush_all(meter, consumer: str, claim_idle_ms: int | None = None) -> int:
    """Flush until nothing is left for ``consumer``; the number of records written."""
    total = 0
    while count := flush_once(meter, consumer, claim_idle_ms=claim_idle_ms):
        total += count
    return total


def flush_metered_calls(meter, claim_idle_ms: int = 0) -> int:
    """Write every call record waiting in Redis, also those held by other processes for
    ``claim_idle_ms`` or longer (``flask usage flush``). Nothing to do with the database meter."""
    if meter.name != "redis":
        return 0
    return flush_all(meter, consumer_name(), claim_idle_ms=claim_idle_ms)


def unreachable(error: BaseException) -> str | None:
    """``Redis`` or ``the database`` when ``error`` means that part cannot be reached, else None."""
    if isinstance(error, redis.ConnectionError | redis.TimeoutError | MeteringUnavailable):
        return "Redis"
    if isinstance(error, OperationalError | PoolTimeout) or (
            isinstance(error, DBAPIError) and error.connection_invalidated):
        return "the database"
    return None


def _first_line(error: BaseException) -> str:
    text = str(getattr(error, "orig", None) or error).strip().splitlines()
    return f"{type(error).__name__}: {text[0][:200] if text else ''}"


class FailureLog:
    """What the flusher says about failures: one line when a failure starts (a traceback only for
    one that is not an outage, since that is a bug), nothing on each retry of the same failure,
    and one line when flushing works again. The records wait in Redis meanwhile."""

    def __init__(self):
        self.kind: str | None = None  # the failure going on, None when flushing works
        self.since = 0.0
        self.attempts = 0

    def failed(self, error: BaseException) -> None:
        part = unreachable(error)
        kind = part or type(error).__name__
        if kind != self.kind:
            if part is not None:
                log.warning("flushing API call records paused: %s is unreachable (%s); the records wait in Redis, "
                            "retrying every second", part, _first_line(error))
            else:
                log.exception("flushing API call records failed; retrying every second (logged once until "
                              "it works again)")
            if self.kind is None:
                self.since, self.attempts = time.monotonic(), 0
            self.kind = kind
        self.attempts += 1

    def succeeded(self) -> None:
        if self.kind is None:
            return
        log.info("flushing API call records resumed after %d failed attempts in %.0f s",
                 self.attempts, time.monotonic() - self.since)
        self.kind = None


def run_flusher(app, meter, consumer: str | None = None) -> None:
    """Write records as they arrive, for ever: a thread of an application process
    (``METERING_FLUSH=background``) or the ``flask usage flush --follow`` service (``external``)."""
    consumer = consumer or consumer_name()
    failures = FailureLog()

    def last_flush():
        if meter.stopped.is_set():  # closed on purpose (tests); its records stay for `flask usage flush`
            return
        with app.app_context():
            try:
                flush_all(meter, consumer)
            except Exception:  # noqa: BLE001 - at exit: the records stay in Redis for `flask usage flush`
                log.exception("final flush of API call records failed; `flask usage flush` will write them")

    atexit.register(last_flush)
    with app.app_context():
        while not meter.stopped.is_set():
            try:
                written = flush_once(meter, consumer, block_ms=1000, claim_idle_ms=CLAIM_IDLE_MS)
                failures.succeeded()
                if written < meter.batch:
                    meter.stopped.wait(meter.flush_interval)  # let a batch gather
            except Exception as exc:  # noqa: BLE001 - keep flushing; the records wait in Redis meanwhile
                if meter.stopped.is_set():
                    break
                failures.failed(exc)
                db.session.remove()
                meter.stopped.wait(1)
