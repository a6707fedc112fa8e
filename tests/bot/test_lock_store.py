"""The dialogue's ticket lock: in arrival order across clients, woken not polled, lapsing after a death."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from rasa.core.lock_store import LockError, LockStore
from rasa.utils.endpoints import EndpointConfig

from bot.dialogue.lock_store import TICKET_LIFETIME_SECONDS, RedisTicketLockStore
from core.keys import Keys
from core.redis import AsyncRedis, async_client, close_async


@pytest_asyncio.fixture
async def clients(shared_url: str) -> AsyncIterator[list[AsyncRedis]]:
    """Four connections, as four engine instances would have, on each deployment in turn."""
    made = [async_client(shared_url) for _ in range(4)]
    yield made
    for client in made:
        await close_async(client)


def conversation() -> str:
    return "locktest:" + uuid.uuid4().hex


class CountingStore(RedisTicketLockStore):
    """Counts how often it looks at the lock (issue included)."""

    looks = 0

    async def _take_ticket(self, conversation_id: str, ticket: int, lifetime_ms: int) -> tuple[int, int]:
        self.looks += 1
        return await super()._take_ticket(conversation_id, ticket, lifetime_ms)


async def test_holders_on_many_clients_are_serialised_in_ticket_order(
    clients: list[AsyncRedis], key_prefix: str
) -> None:
    conv = conversation()
    stores = [RedisTicketLockStore(c, key_prefix) for c in clients]
    inside, served = 0, []

    async def worker(i: int) -> None:
        nonlocal inside
        async with stores[i % len(stores)].lock(conv) as held:
            inside += 1
            assert inside == 1
            served.append(held.tickets[0].number)
            await asyncio.sleep(0)
            inside -= 1

    await asyncio.gather(*(worker(i) for i in range(60)))
    # Every ticket issued once, and served in the order it was issued.
    assert served == list(range(1, 61))
    keys = Keys(key_prefix)
    assert await clients[0].exists(keys.dialogue_lock(conv), keys.dialogue_lock_wake(conv)) == 0


async def test_a_waiter_is_woken_by_the_release_without_polling(
    clients: list[AsyncRedis], key_prefix: str
) -> None:
    conv = conversation()
    holder = RedisTicketLockStore(clients[0], key_prefix)
    waiter = CountingStore(clients[1], key_prefix)
    released_at = 0.0
    entered_at = 0.0

    async def hold() -> None:
        nonlocal released_at
        async with holder.lock(conv):
            await asyncio.sleep(1.5)
            released_at = time.monotonic()

    async def wait() -> None:
        nonlocal entered_at
        await asyncio.sleep(0.1)
        async with waiter.lock(conv):
            entered_at = time.monotonic()

    await asyncio.gather(hold(), wait())
    # Woken by the release (a timed look again would come only after a third of the 10 s lifetime) ...
    assert 0 <= entered_at - released_at < 0.5
    # ... having looked at the lock twice in 1.4 s: when it took its ticket and when it was woken
    # (polling every 10 ms, as before, would have been ~140 looks).
    assert waiter.looks == 2


async def test_a_ticket_left_by_a_dead_instance_lapses_within_its_lifetime(
    clients: list[AsyncRedis], key_prefix: str
) -> None:
    conv = conversation()
    keys = Keys(key_prefix)
    # What a killed instance leaves: ticket 1, issued by the server's clock, never renewed or released.
    seconds, micros = await clients[0].time()
    await clients[0].incr(keys.dialogue_lock_counter(conv))
    await clients[0].hset(keys.dialogue_lock(conv), "1", seconds * 1000 + micros // 1000 + 1000)
    alive = RedisTicketLockStore(clients[1], key_prefix, lifetime_seconds=1.0)
    started = time.monotonic()
    async with alive.lock(conv) as held:
        waited = time.monotonic() - started
        assert held.tickets[0].number == 2
    assert 0.8 <= waited < 2.0
    # The engine's tickets are seconds long, not Rasa's minute.
    assert TICKET_LIFETIME_SECONDS <= 10


async def test_a_live_holder_keeps_its_ticket_past_the_lifetime(
    clients: list[AsyncRedis], key_prefix: str
) -> None:
    conv = conversation()
    first = RedisTicketLockStore(clients[0], key_prefix, lifetime_seconds=0.6)
    second = RedisTicketLockStore(clients[1], key_prefix, lifetime_seconds=0.6)
    order: list[str] = []

    async def slow() -> None:
        async with first.lock(conv):
            order.append("slow in")
            await asyncio.sleep(2.0)  # more than three lifetimes
            order.append("slow out")

    async def quick() -> None:
        await asyncio.sleep(0.1)
        async with second.lock(conv):
            order.append("quick")

    await asyncio.gather(slow(), quick())
    assert order == ["slow in", "slow out", "quick"]


async def test_a_waiter_that_gives_up_does_not_hold_up_the_next(
    clients: list[AsyncRedis], key_prefix: str
) -> None:
    conv = conversation()
    store = RedisTicketLockStore(clients[0], key_prefix)
    holding, release = asyncio.Event(), asyncio.Event()

    async def hold() -> None:
        async with store.lock(conv):
            holding.set()
            await release.wait()

    holder = asyncio.create_task(hold())
    await holding.wait()
    impatient = asyncio.create_task(store.lock(conv).__aenter__())
    await asyncio.sleep(0.1)
    impatient.cancel()  # a webhook's turn abandoned while it waited (shutdown, a lost lease)
    with pytest.raises(asyncio.CancelledError):
        await impatient
    release.set()
    await holder
    started = time.monotonic()
    async with store.lock(conv):
        assert time.monotonic() - started < 0.5  # the abandoned ticket was given back, not left to lapse


async def test_a_ticket_that_lapsed_while_waiting_is_an_error_not_a_turn(
    clients: list[AsyncRedis], key_prefix: str
) -> None:
    conv = conversation()
    keys = Keys(key_prefix)
    holder = RedisTicketLockStore(clients[0], key_prefix)
    waiter = RedisTicketLockStore(clients[1], key_prefix)

    async def hold() -> None:
        async with holder.lock(conv):
            await asyncio.sleep(0.3)
            # What a Redis stall longer than a lifetime looks like to the waiter: its ticket is gone.
            await clients[0].hdel(keys.dialogue_lock(conv), "2")

    async def wait() -> None:
        await asyncio.sleep(0.1)
        with pytest.raises(LockError):
            async with waiter.lock(conv):
                raise AssertionError("served a ticket that had lapsed")

    await asyncio.gather(hold(), wait())


async def test_a_rasa_deployment_can_name_it_in_endpoints_yml(redis_url: str, key_prefix: str) -> None:
    config = EndpointConfig(
        url=redis_url, type="bot.dialogue.lock_store.RedisTicketLockStore", key_prefix=key_prefix + "rasa"
    )
    store = LockStore.create(config)
    assert isinstance(store, RedisTicketLockStore)
    conv = conversation()
    try:
        async with store.lock(conv) as held:
            assert held.conversation_id == conv
            assert held.tickets[0].number == 1
            assert await store._redis.exists(Keys(key_prefix + "rasa").dialogue_lock(conv)) == 1
    finally:
        await close_async(store._redis)
