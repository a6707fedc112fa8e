"""Per-conversation streams that one worker at a time drains, across instances, under a lease.

The intake (customer messages) and the outbox (pushes) keep one Redis stream per conversation and a
sorted set of the conversations whose stream may hold something. `Drainer.drain` is their worker: it takes the
lease, hands each entry to the caller in order until the stream is empty, and takes the conversation off
the list; a conversation whose worker died stays listed for the sweep of another instance.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from core.lease import Lease
from core.redis import AsyncRedis

BATCH = 20

# KEYS: lease, stream. ARGV: token, lifetime (ms), batch. Takes the lease if it is free and returns the
# stream's first entries (none: the lease is let go at once); false when another worker holds it.
_TAKE_LUA = """
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return false end
local entries = redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', ARGV[3])
if #entries == 0 then redis.call('DEL', KEYS[1]) end
return entries
"""

# KEYS: lease, stream. ARGV: token, batch, then the ids of entries done with (deleted first). Returns the
# next entries, or none after deleting the lease (so the stream was empty while it was held); false when
# the lease is no longer this worker's.
_NEXT_LUA = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return false end
if #ARGV > 2 then redis.call('XDEL', KEYS[2], unpack(ARGV, 3)) end
local entries = redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', ARGV[2])
if #entries == 0 then redis.call('DEL', KEYS[1]) end
return entries
"""

# Handles one entry (id, fields). With ``delete`` the drain removes it afterwards; otherwise ``take``
# removes it itself (in its own transaction), when it is done with it.
Take = Callable[[str, dict[str, str]], Awaitable[None]]
Entries = list[tuple[str, dict[str, str]]]


class Drainer:
    """Drains streams of one kind: its two scripts are registered once, not per conversation."""

    def __init__(self, client: AsyncRedis, listed: str, *, delete: bool = False) -> None:
        """Drain streams listed in the sorted set ``listed``; with ``delete``, remove entries once taken."""
        self._redis = client
        self._listed = listed
        self._delete = delete
        self._take_script = client.register_script(_TAKE_LUA)
        self._next_script = client.register_script(_NEXT_LUA)

    async def drain(self, lease: Lease, stream: str, conversation: str, take: Take) -> None:
        """Own ``stream`` under ``lease`` and ``take`` its entries in order until it stays empty.

        Three round trips for a stream of one entry (take the lease and read; delete, read again and let
        go; unlist), where separate commands took eight: every customer message passes two of these.
        """
        while True:
            token = lease.fresh_token()
            entries = await self._take_script(
                keys=[lease.key, stream], args=[token, lease.lifetime_ms, BATCH]
            )
            if entries is None:
                return  # another worker owns it and re-checks the stream before it lets go
            if entries and not await self._take_all(lease, stream, entries, take):
                return
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.zrem(self._listed, conversation)
                pipe.xlen(stream)
                _, waiting = await pipe.execute()
            # An entry may have arrived after the lease went: list the conversation again and take it.
            if not int(waiting):
                return
            await self._redis.zadd(self._listed, {conversation: time.time()}, nx=True)

    async def _take_all(self, lease: Lease, stream: str, entries: Any, take: Take) -> bool:
        """Take entries until a read finds none (and lets the lease go); False when the lease was lost."""
        async with lease:
            while entries and not lease.lost:
                done: list[str] = []
                for entry_id, fields in _decoded(entries):
                    if lease.lost:
                        break
                    await take(entry_id, fields)
                    done.append(entry_id)
                if lease.lost:
                    break
                args = [lease.token, BATCH, *(done if self._delete else ())]
                entries = await self._next_script(keys=[lease.key, stream], args=args)
                if entries is None:
                    lease.lost = True
            if not lease.lost:
                lease.let_go()  # the last read found the stream empty and deleted the lease
        return not lease.lost


def _decoded(entries: Any) -> Entries:
    """Return script-returned stream entries as (id, fields) pairs (scripts return flat field lists)."""
    out: Entries = []
    for entry_id, flat in entries:
        values = [str(v) for v in flat]
        out.append((str(entry_id), dict(zip(values[::2], values[1::2], strict=True))))
    return out


class Workers:
    """One local worker task per conversation; a kick while it runs makes it look once more before it ends.

    Without the second look, a message stored just after the worker's last look at its stream (and
    unlisted by its final ZREM) would be left with no worker and nothing for the sweep to find.
    """

    def __init__(self, work: Callable[[str], Awaitable[None]]) -> None:
        """Run ``work(conversation)`` as the conversation's worker."""
        self._work = work
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self._again: set[str] = set()

    def kick(self, conversation: str) -> None:
        """Make sure a local worker drains the conversation's stream."""
        task = self.tasks.get(conversation)
        if task is None or task.done():
            self.tasks[conversation] = asyncio.create_task(self._run(conversation))
        else:
            self._again.add(conversation)

    async def _run(self, conversation: str) -> None:
        while True:
            self._again.discard(conversation)
            await self._work(conversation)
            if conversation not in self._again:
                return
