"""Rasa's ticket lock on asyncio Redis: one atomic script per step, waiters woken instead of polling.

Rasa 3.6's RedisLockStore reads the lock, changes it in Python and writes it back with a blocking
client, and a waiter polls it (we polled every 10 ms): each poll blocked the event loop for a round trip,
and a Redis stall froze every webhook of the instance for up to the client's 10 s socket timeout.
Here the lock is a hash of ticket number → expiry in the conversation's slot; issuing, checking,
renewing and releasing a ticket are each one Lua script, timed by the server's clock, so instances with
skewed clocks agree. A waiter blocks on a wake-up list (BLPOP) that the releasing holder fills, and
looks again by itself when the head ticket would expire: a killed holder's ticket lapses within one
lifetime (10 s, renewed by a live holder), not Rasa's minute.

The class is a Rasa ``LockStore``: besides the engine, a plain Rasa deployment can name it in
``endpoints.yml`` (``lock_store: {type: bot.dialogue.lock_store.RedisTicketLockStore, url: redis://…,
key_prefix: …}``). Only ``lock()`` is offered: it is the one method Rasa's agent and processor call.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from rasa.core.lock import Ticket, TicketLock
from rasa.core.lock_store import LockError, LockStore
from rasa.utils.endpoints import EndpointConfig
from redis.exceptions import RedisError

from core.keys import DIALOGUE_LOCK_COUNTER_TTL_SECONDS, Keys
from core.redis import AsyncRedis, async_client
from core.tasks import stop_tasks

log = logging.getLogger(__name__)

TICKET_LIFETIME_SECONDS = 10.0
# A live holder renews three times per lifetime, so one slow Redis answer does not lose its ticket.
RENEWALS_PER_LIFETIME = 3

_NOW = "local t = redis.call('TIME') local now = t[1] * 1000 + math.floor(t[2] / 1000)\n"

# KEYS: lock, counter. ARGV: ticket (0 = issue one), lifetime ms, counter TTL s.
# Returns {ticket, wait}: wait 0 = the ticket is served, -1 = it lapsed, else ms until the head lapses.
_TAKE_LUA = (
    _NOW
    + """
local ticket, life = tonumber(ARGV[1]), tonumber(ARGV[2])
if ticket == 0 then
  ticket = redis.call('INCR', KEYS[2])
  redis.call('EXPIRE', KEYS[2], ARGV[3])
  redis.call('HSET', KEYS[1], ticket, now + life)
end
local all = redis.call('HGETALL', KEYS[1])
local head, head_expires, latest, mine = nil, 0, 0, false
for i = 1, #all, 2 do
  local n, expires = tonumber(all[i]), tonumber(all[i + 1])
  if expires <= now then
    redis.call('HDEL', KEYS[1], all[i])
  else
    if n == ticket then mine = true end
    if head == nil or n < head then head, head_expires = n, expires end
    if expires > latest then latest = expires end
  end
end
if not mine then return {ticket, -1} end
redis.call('PEXPIRE', KEYS[1], latest - now)
if head == ticket then return {ticket, 0} end
return {ticket, head_expires - now}
"""
)

# KEYS: lock. ARGV: ticket, lifetime ms. Extends a ticket that has not lapsed; returns 1, else 0.
_RENEW_LUA = (
    _NOW
    + """
local expires = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
if expires <= now then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], now + tonumber(ARGV[2]))
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 1
"""
)

# KEYS: lock, wake. ARGV: ticket, lifetime ms. Drops the ticket and lapsed ones; wakes every waiter left.
_RELEASE_LUA = (
    _NOW
    + """
redis.call('HDEL', KEYS[1], ARGV[1])
local all = redis.call('HGETALL', KEYS[1])
local waiting = 0
for i = 1, #all, 2 do
  if tonumber(all[i + 1]) <= now then redis.call('HDEL', KEYS[1], all[i]) else waiting = waiting + 1 end
end
redis.call('DEL', KEYS[2])
if waiting > 0 then
  for _ = 1, waiting do redis.call('RPUSH', KEYS[2], '1') end
  redis.call('PEXPIRE', KEYS[2], ARGV[2])
end
return waiting
"""
)


class RedisTicketLockStore(LockStore):
    """Serialise the turns of one conversation across instances, in arrival order."""

    def __init__(
        self,
        client: AsyncRedis | None = None,
        prefix: str = "rasa",
        *,
        endpoint_config: EndpointConfig | None = None,
        lifetime_seconds: float = TICKET_LIFETIME_SECONDS,
    ) -> None:
        """Use ``client`` under ``prefix``, or the ``url`` and ``key_prefix`` of a Rasa endpoint config."""
        if client is None:
            if endpoint_config is None or not endpoint_config.url:
                raise ValueError("RedisTicketLockStore needs a client or an endpoint config with a url")
            client = async_client(endpoint_config.url)
            prefix = str(endpoint_config.kwargs.get("key_prefix") or prefix)
        super().__init__()
        self._redis = client
        self._keys = Keys(prefix)
        self.lifetime_seconds = lifetime_seconds
        self._take = client.register_script(_TAKE_LUA)
        self._renew = client.register_script(_RENEW_LUA)
        self._release = client.register_script(_RELEASE_LUA)

    @contextlib.asynccontextmanager
    async def lock(
        self,
        conversation_id: str,
        lock_lifetime: float | None = None,
        wait_time_in_seconds: float = 1,
    ) -> AsyncIterator[TicketLock]:
        """Take a ticket, wait for its turn, and hold it (renewed) until the block ends.

        ``wait_time_in_seconds`` is accepted for Rasa's signature only: waiters are woken, not polling.
        """
        lifetime_ms = int((lock_lifetime or self.lifetime_seconds) * 1000)
        ticket, wait_ms = await self._take_ticket(conversation_id, 0, lifetime_ms)
        renewer = asyncio.create_task(self._keep(conversation_id, ticket, lifetime_ms))
        try:
            while wait_ms != 0:
                if wait_ms < 0:
                    raise LockError(f"the ticket for conversation '{conversation_id}' lapsed while it waited")
                await self._wait(conversation_id, min(wait_ms, lifetime_ms / RENEWALS_PER_LIFETIME))
                ticket, wait_ms = await self._take_ticket(conversation_id, ticket, lifetime_ms)
            held = TicketLock(conversation_id)
            held.tickets.append(Ticket(ticket, 0.0))
            yield held
        finally:
            await stop_tasks(renewer)
            await self._give_back(conversation_id, ticket, lifetime_ms)

    async def _take_ticket(self, conversation_id: str, ticket: int, lifetime_ms: int) -> tuple[int, int]:
        keys = [self._keys.dialogue_lock(conversation_id), self._keys.dialogue_lock_counter(conversation_id)]
        number, wait = await self._take(
            keys=keys, args=[ticket, lifetime_ms, DIALOGUE_LOCK_COUNTER_TTL_SECONDS]
        )
        return int(number), int(wait)

    async def _wait(self, conversation_id: str, timeout_ms: float) -> None:
        """Block until a holder's release wakes us, or until the head ticket may have lapsed."""
        # BLPOP's timeout is in seconds; 0 would mean "forever", so never less than a millisecond.
        await self._redis.blpop([self._keys.dialogue_lock_wake(conversation_id)], max(timeout_ms, 1) / 1000)

    async def _keep(self, conversation_id: str, ticket: int, lifetime_ms: int) -> None:
        key = self._keys.dialogue_lock(conversation_id)
        while True:
            await asyncio.sleep(lifetime_ms / 1000 / RENEWALS_PER_LIFETIME)
            try:
                if not await self._renew(keys=[key], args=[ticket, lifetime_ms]):
                    log.warning("dialogue ticket lapsed while held", extra={"conversation": conversation_id})
                    return
            except RedisError:
                # Redis trouble: try again next time; if it lasts, the ticket lapses as after a death.
                log.warning("ticket renewal failed", exc_info=True, extra={"conversation": conversation_id})

    async def _give_back(self, conversation_id: str, ticket: int, lifetime_ms: int) -> None:
        keys = [self._keys.dialogue_lock(conversation_id), self._keys.dialogue_lock_wake(conversation_id)]
        try:
            await self._release(keys=keys, args=[ticket, lifetime_ms])
        except RedisError:
            # The ticket lapses by itself within one lifetime; the next holder waits that long at most.
            log.warning("ticket release failed", exc_info=True, extra={"conversation": conversation_id})
