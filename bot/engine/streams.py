"""Per-conversation streams that one worker at a time drains, across instances, under a lease.

The intake (customer messages) and the outbox (pushes) keep one Redis stream per conversation and a
sorted set of the conversations whose stream may hold something. `drain` is their worker: it takes the
lease, hands each entry to the caller in order until the stream is empty, and takes the conversation off
the list; a conversation whose worker died stays listed for the sweep of another instance.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from core.lease import Lease
from core.redis import AsyncRedis

BATCH = 20

# Handles one entry (id, fields); it removes the entry from the stream itself, when it is done with it.
Take = Callable[[str, dict[str, str]], Awaitable[None]]


async def drain(
    client: AsyncRedis, lease: Lease, stream: str, listed: str, conversation: str, take: Take
) -> None:
    """Own ``stream`` under ``lease`` and ``take`` its entries in order until it stays empty."""
    while True:
        if not await lease.acquire():
            return  # another worker owns it and re-checks the stream before it lets go
        async with lease:
            while not lease.lost and (entries := await client.xrange(stream, count=BATCH)):
                for entry_id, fields in entries:
                    if lease.lost:
                        break
                    await take(entry_id, fields)
        if lease.lost:
            return
        if await client.xlen(stream) == 0:
            await client.zrem(listed, conversation)
            # An entry may have arrived between the two calls; list the conversation again if so.
            if await client.xlen(stream) == 0:
                return
            await client.zadd(listed, {conversation: time.time()}, nx=True)


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
