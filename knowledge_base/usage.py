"""How often the bot used each entry: answered with it, suggested it, or escalated a question nearest it.

Editors see the counts for the last 7 and 30 days beside each entry. Counting sits on the customer's
path, so a turn only adds to a counter in memory; a background task writes the sums every few seconds
(one pipeline for all of them). A crash loses at most those seconds of counts, which an editor's
"about how often" can afford; the reply never waits for them.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections import Counter
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from core.keys.families import KnowledgeKeys
from knowledge_base.index import Found

log = logging.getLogger(__name__)

BANDS = ("answer", "suggest", "escalate")
WINDOWS = (7, 30)
FLUSH_SECONDS = 2.0
_KEEP_SECONDS = 35 * 86400  # a day's counts outlive the 30-day window a little
_MAX_PENDING = 50_000  # distinct counters held while Redis is away; beyond that new ones are dropped


def _today() -> dt.date:
    return dt.datetime.now(dt.timezone.utc).date()


class EntryUsage:
    """Per-entry, per-day counts of the bot's answers, suggestions and escalations."""

    def __init__(self, client: aioredis.Redis[str], keys: KnowledgeKeys) -> None:
        """Keep the counts under the knowledge base's ``keys``."""
        self._redis = client
        self._keys = keys
        self._pending: Counter[tuple[str, str]] = Counter()

    def count(self, found: Found | None, day: dt.date | None = None) -> None:
        """Count one decision: its answered or suggested entries, or the entry nearest an escalation."""
        if found is None or not found.locale:
            return
        band = found.decision.band.value
        if band == "escalate":
            ids = [c.entry_id for c in found.decision.candidates[:1]]
        else:
            ids = [e.id for e in (found.entries[:1] if band == "answer" else found.entries)]
        when = (day or _today()).isoformat()
        for entry_id in ids:
            key = (when, f"{found.locale}/{entry_id}/{band}")
            if key in self._pending or len(self._pending) < _MAX_PENDING:
                self._pending[key] += 1

    async def flush(self) -> None:
        """Write the counts held in memory (kept for the next try when Redis fails)."""
        if not self._pending:
            return
        taken, self._pending = self._pending, Counter()
        pipe = self._redis.pipeline(transaction=False)
        for (day, field), n in taken.items():
            pipe.hincrby(self._keys.usage(day), field, n)
        for day in {day for day, _ in taken}:
            pipe.expire(self._keys.usage(day), _KEEP_SECONDS)
        try:
            await pipe.execute()
        except (RedisError, OSError):
            self._pending.update(taken)
            raise

    async def run(self, every: float = FLUSH_SECONDS) -> None:
        """Flush every ``every`` seconds until cancelled (and once more on the way out)."""
        try:
            while True:
                await asyncio.sleep(every)
                try:
                    await self.flush()
                except (RedisError, OSError) as exc:
                    log.warning("kb usage: not written yet", extra={"error": str(exc)})
        finally:
            try:
                await asyncio.shield(self.flush())
            except (RedisError, OSError):
                log.warning("kb usage: counts of the last seconds lost at shutdown")

    async def summary(self, today: dt.date | None = None) -> dict[str, dict[str, Any]]:
        """Return ``{"locale/id": {band: [7 days, 30 days], "last_used": date}}`` for used entries."""
        end = today or _today()
        days = [end - dt.timedelta(days=n) for n in range(max(WINDOWS))]
        pipe = self._redis.pipeline(transaction=False)
        for day in days:
            pipe.hgetall(self._keys.usage(day.isoformat()))
        rows: list[dict[str, str]] = await pipe.execute()
        usage: dict[str, dict[str, Any]] = {}
        for age, row in enumerate(rows):
            for field, raw in row.items():
                entry, _, band = field.rpartition("/")
                if band not in BANDS or not entry:
                    continue
                item = usage.setdefault(entry, {b: [0] * len(WINDOWS) for b in BANDS} | {"last_used": None})
                for i, window in enumerate(WINDOWS):
                    if age < window:
                        item[band][i] += int(raw)
                item["last_used"] = item["last_used"] or days[age].isoformat()
        return usage
