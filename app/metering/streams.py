"""The Redis meter's streams of call records, read by the flusher (``flush.py``) and acknowledged
once written: a part of ``RedisMeter`` (see ``redis_meter.py`` for what each group holds)."""

from __future__ import annotations

import redis

GROUP = "flush"


class RecordStreams:
    """Reading, acknowledging and counting the groups' streams of call records. Expects
    ``redis``, ``shards``, ``group_prefix``, ``_scripts``, ``_groups_ready`` and ``_next_shard``."""

    def _ensure_group(self, shard: int) -> str:
        stream = self.group_prefix(shard) + "calls"
        if shard not in self._groups_ready:
            try:
                self.redis.xgroup_create(stream, GROUP, id="0", mkstream=True)
            except redis.ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise
            self._groups_ready.add(shard)
        return stream

    def read_records(self, consumer: str, count: int, block_ms: int | None = None, claim_idle_ms: int | None = None):
        """Up to ``count`` entries for ``consumer``, as (group, entry id, fields), from every group in
        turn: in each, its own unacknowledged ones first, then stale ones of others, then new. Blocks
        (``block_ms``) only where there is one group: a cluster cannot wait on streams of many slots."""
        found = []
        first = self._next_shard
        self._next_shard = (first + 1) % self.shards
        for step in range(self.shards):
            shard = (first + step) % self.shards
            block = block_ms if self.shards == 1 else None
            entries = self._read_group(shard, consumer, count - len(found), block, claim_idle_ms)
            found += [(shard, entry_id, fields) for entry_id, fields in entries]
            if len(found) >= count:
                break
        return found

    def _read_group(self, shard: int, consumer: str, count: int, block_ms: int | None, claim_idle_ms: int | None):
        stream = self._ensure_group(shard)
        try:
            return self._read_stream(stream, consumer, count, block_ms, claim_idle_ms)
        except redis.ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            self._groups_ready.discard(shard)  # Redis lost the stream (restarted without its data): start again
            stream = self._ensure_group(shard)
            return self._read_stream(stream, consumer, count, block_ms, claim_idle_ms)

    def _read_stream(self, stream: str, consumer: str, count: int, block_ms: int | None, claim_idle_ms: int | None):
        own = self.redis.xreadgroup(GROUP, consumer, {stream: "0"}, count=count)
        entries = own[0][1] if own else []
        gone = [entry_id for entry_id, fields in entries if not fields]  # written and deleted by another flusher
        if gone:
            self.redis.xack(stream, GROUP, *gone)
            entries = [entry for entry in entries if entry[1]]
        if not entries and claim_idle_ms is not None:
            entries = self.redis.xautoclaim(stream, GROUP, consumer, claim_idle_ms, "0-0", count=count)[1]
        if not entries:
            new = self.redis.xreadgroup(GROUP, consumer, {stream: ">"}, count=count, block=block_ms)
            entries = new[0][1] if new else []
        return [(entry_id, fields) for entry_id, fields in entries if fields and "v" in fields]

    def acknowledge(self, entries) -> None:
        """Remove written records: ``entries`` are (group, entry id, user id, key id, credits charged)."""
        by_group: dict[int, list] = {}
        for shard, *entry in entries:
            by_group.setdefault(shard, []).extend(entry)
        for shard, quadruples in by_group.items():
            group = self.group_prefix(shard)
            self._scripts["ack"](keys=[group + "calls", group + "pend", group + "pendk"],
                                 args=[GROUP, group + "gen:", *quadruples])

    def backlog(self, now_ms: int) -> tuple[int, float | None]:
        """Records waiting for the flusher, and the age in seconds of the oldest (None: none wait)."""
        waiting, oldest = 0, None
        for shard in range(self.shards):
            stream = self._ensure_group(shard)
            waiting += self.redis.xlen(stream)
            first = self.redis.xrange(stream, count=1)
            if first:
                born = int(first[0][0].split("-")[0])
                oldest = born if oldest is None else min(oldest, born)
        return waiting, None if oldest is None else round(max(0, now_ms - oldest) / 1000, 1)

    def pending_count(self) -> int:
        """Call records in Redis not yet written to the database, in every group."""
        return sum(self.redis.xlen(self._ensure_group(shard)) for shard in range(self.shards))
