"""Conversations with messages waiting, on one list shared by every engine process and instance.

A webhook is answered by whichever process accepted its connection, and platforms reuse few
connections: with one worker per core, one process could get every message while the others idle
(bench/RESULTS.md, "Turns go to the free process"). So a stored message is announced here instead of
being handled where it arrived, and each process pulls a conversation only when it has a turn free.
Order stays per conversation (its lease and stream); the list only says "this one has work". An
announcement lost with a dying process is covered by the intake's sweep, as before.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from core.redis import AsyncRedis
from core.tasks import stop_tasks
from core.throttle import throttled

log = logging.getLogger(__name__)

# How long one pull blocks before looking again (a closed engine stops within this).
BLOCK_SECONDS = 1.0
# Announcements kept at most; older ones are dropped (their conversations stay listed for the sweep).
MAX_ANNOUNCED = 100_000
RETRY_SECONDS = 1.0


class ReadyList:
    """Announce conversations with work; ``runners`` tasks pull them while a turn is free."""

    def __init__(
        self,
        client: AsyncRedis,
        key: str,
        take: Callable[[str], Awaitable[None]],
        free_turn: Callable[[], Awaitable[None]],
        runners: int,
    ) -> None:
        """Pull from ``key`` with ``runners`` tasks; each waits for ``free_turn`` and then ``take``s one."""
        self._redis = client
        self._key = key
        self._take = take
        self._free_turn = free_turn
        self._count = runners
        self._runners: list[asyncio.Task[None]] = []

    async def announce(self, conversation: str) -> None:
        """Say that ``conversation`` has a message waiting (after it is stored)."""
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.rpush(self._key, conversation)
            pipe.ltrim(self._key, -MAX_ANNOUNCED, -1)
            await pipe.execute()

    def start(self) -> None:
        """Start pulling (idempotent)."""
        if not self._runners:
            self._runners = [asyncio.create_task(self._run()) for _ in range(self._count)]

    async def waiting(self) -> int:
        """Return how many announcements no process has pulled yet."""
        return int(await self._redis.llen(self._key))

    async def close(self) -> None:
        """Stop pulling; what is announced stays for the other processes."""
        await stop_tasks(*self._runners)
        self._runners = []

    async def _run(self) -> None:
        while True:
            # A process whose turns are all busy leaves the work to a process with one free.
            await self._free_turn()
            try:
                pulled = await self._redis.blpop([self._key], BLOCK_SECONDS)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # Redis away: what was announced stays listed; the sweep finds it if this lasts.
                throttled.warning(log, "cannot pull waiting conversations (%s); retrying", type(exc).__name__)
                await asyncio.sleep(RETRY_SECONDS)
                continue
            if pulled is not None:
                await self._take(str(pulled[1]))
