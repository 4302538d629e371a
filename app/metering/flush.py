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

from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.metering.types import unpack
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
    meter.acknowledge([(shard, entry_id, r["user_id"], r["key_id"] or "", r["credits"])
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


def run_flusher(app, meter, consumer: str | None = None) -> None:
    """Write records as they arrive, for ever: a thread of an application process
    (``METERING_FLUSH=background``) or the ``flask usage flush --follow`` service (``external``)."""
    consumer = consumer or consumer_name()

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
                if written < meter.batch:
                    meter.stopped.wait(meter.flush_interval)  # let a batch gather
            except Exception:  # noqa: BLE001 - keep flushing; the records wait in Redis meanwhile
                if meter.stopped.is_set():
                    break
                log.exception("flushing API call records failed; retrying")
                db.session.remove()
                meter.stopped.wait(1)
