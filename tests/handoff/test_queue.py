"""The human queue on the real test Redis: priority, the routing chain, offers, loss, concurrency."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import redis.asyncio as aioredis

from core.keys import Keys
from core.state import ConversationStates, Owner
from handoff.queue import HandoffQueue, QueueSettings


@pytest.fixture
def prefix(key_prefix: str) -> str:
    return f"{key_prefix}q{uuid.uuid4().hex[:6]}"


def make_queue(client: aioredis.Redis, prefix: str, **settings: object) -> HandoffQueue:
    return HandoffQueue(client, prefix, ConversationStates(client, Keys(prefix)), QueueSettings(**settings))  # type: ignore[arg-type]


async def queued(queue: HandoffQueue, conversation: str, **kwargs: object) -> None:
    """Move a conversation to QUEUED (as the handoff service does) and enqueue it."""
    await queue.states.transition(conversation, Owner.QUEUED, actor="bot", reason="test", expected=Owner.BOT)
    await queue.enqueue(conversation, **kwargs)  # type: ignore[arg-type]


async def test_vip_who_waited_one_minute_goes_before_a_regular_who_waited_two(
    redis_client: aioredis.Redis, prefix: str
) -> None:
    queue = make_queue(redis_client, prefix)
    now = 1_800_000_000_000
    await queued(queue, "c:regular-old", team="sales", tier="regular", now_ms=now - 120_000)
    await queued(queue, "c:vip", team="sales", tier="vip", now_ms=now - 60_000)
    await queued(queue, "c:regular-new", team="sales", tier="regular", now_ms=now - 30_000)
    await queued(queue, "c:vip-newer", team="sales", tier="vip", now_ms=now - 10_000)
    order = [t.conversation_id for t in await queue.waiting("sales")]
    assert order == ["c:vip", "c:vip-newer", "c:regular-old", "c:regular-new"]
    position = await queue.position("c:regular-old")
    assert position.position == 3
    assert position.expected_wait_seconds > 0


async def test_enqueue_is_idempotent(redis_client: aioredis.Redis, prefix: str) -> None:
    queue = make_queue(redis_client, prefix)
    await queued(queue, "c:1", team="sales", now_ms=1000)
    again = await queue.enqueue("c:1", team="sales", now_ms=999_999)
    assert again.position == 1
    ticket = await queue.ticket("c:1")
    assert ticket is not None
    assert ticket.enqueued_ms == 1000
    assert len(await queue.waiting("sales")) == 1


async def test_vip_goes_to_the_dedicated_agent_while_a_regular_waits(
    redis_client: aioredis.Redis, prefix: str
) -> None:
    queue = make_queue(redis_client, prefix)
    await queue.upsert_agent("ann", "Ann", ["sales"], capacity=1)
    await queue.upsert_agent("bob", "Bob", ["sales"], capacity=1)
    await queued(queue, "c:regular", team="sales", tier="regular", now_ms=1000)
    await queued(queue, "c:vip", team="sales", tier="vip", dedicated_agent="ann", now_ms=2000)
    # Ann comes online first: the VIP (hers) goes to her even though the regular waited longer.
    placed = await queue.set_status("ann", "online")
    assert [(p.conversation_id, p.agent_id, p.step) for p in placed] == [("c:vip", "ann", "dedicated")]
    assert (await queue.position("c:regular")).position == 1
    assert await queue.accept("ann", "c:vip")
    assert await queue.states.get("c:vip") is Owner.AGENT
    placed = await queue.set_status("bob", "online")
    assert [(p.conversation_id, p.agent_id, p.step) for p in placed] == [("c:regular", "bob", "team")]


async def test_sticky_agent_then_team_then_anyone(redis_client: aioredis.Redis, prefix: str) -> None:
    queue = make_queue(redis_client, prefix, auto_assign_teams=frozenset({"sales", "billing"}))
    await queue.upsert_agent("ann", "Ann", ["sales"], capacity=2)
    await queue.upsert_agent("bob", "Bob", ["sales"], capacity=2)
    await queue.set_status("ann", "online")
    await queue.set_status("bob", "online")
    await queued(queue, "c:returning", team="sales", last_agent="bob", now_ms=1000)
    ticket = await queue.ticket("c:returning")
    assert ticket is not None
    assert (ticket.status, ticket.agent) == ("assigned", "bob")  # Ann was less loaded, but Bob served them
    assert "c:returning" in await queue.conversations_of("bob")
    # Nobody in billing: the conversation goes to anyone available.
    await queued(queue, "c:billing", team="billing", now_ms=2000)
    holders = {a for a in ("ann", "bob") if "c:billing" in await queue.conversations_of(a)}
    assert len(holders) == 1
    assert await queue.states.get("c:billing") is Owner.AGENT


async def test_a_transferred_conversation_waits_for_its_team_and_never_goes_back(
    redis_client: aioredis.Redis, prefix: str
) -> None:
    queue = make_queue(redis_client, prefix)
    await queue.upsert_agent("ann", "Ann", ["sales"], capacity=2)
    await queue.upsert_agent("bob", "Bob", ["sales"], capacity=2)
    await queue.upsert_agent("cat", "Cat", ["billing"], capacity=2)
    await queue.set_status("ann", "online")
    await queued(queue, "c:moved", team="billing", transferred_from="ann", now_ms=1000)
    # Ann is free, but she handed it over; billing was asked for, so no "anyone" fallback either.
    assert await queue.conversations_of("ann") == set()
    await queue.set_status("bob", "online")
    await queue.sweep()
    assert await queue.conversations_of("bob") == set()
    assert [t.conversation_id for t in await queue.waiting("billing")] == ["c:moved"]
    await queue.set_status("cat", "online")
    assert await queue.conversations_of("cat") == {"c:moved"}
    # Cat declines: it goes back to billing's queue, still not to Ann or Bob.
    assert await queue.requeue("c:moved", "cat", "declined")
    assert await queue.conversations_of("ann") == await queue.conversations_of("bob") == set()
    ticket = await queue.ticket("c:moved")
    assert ticket is not None
    assert (ticket.status, ticket.transferred_from) == ("queued", "ann")


async def test_capacity_is_respected_and_finishing_frees_a_slot(
    redis_client: aioredis.Redis, prefix: str
) -> None:
    queue = make_queue(redis_client, prefix, auto_assign_teams=frozenset({"sales"}))
    await queue.upsert_agent("ann", "Ann", ["sales"], capacity=1)
    await queue.set_status("ann", "online")
    await queued(queue, "c:1", team="sales", now_ms=1000)
    await queued(queue, "c:2", team="sales", now_ms=2000)
    assert await queue.conversations_of("ann") == {"c:1"}
    assert [t.conversation_id for t in await queue.waiting("sales")] == ["c:2"]
    assert await queue.finish("c:1", "ann", handled_seconds=120)
    assert await queue.conversations_of("ann") == {"c:2"}
    agent = await queue.agent("ann")
    assert agent is not None
    assert agent.load == 1


async def test_an_offer_not_accepted_in_time_goes_back_to_the_front(
    redis_client: aioredis.Redis, prefix: str
) -> None:
    queue = make_queue(redis_client, prefix)
    await queue.upsert_agent("ann", "Ann", ["sales"], capacity=1)
    await queued(queue, "c:first", team="sales", now_ms=1000)
    await queue.set_status("ann", "online")
    ticket = await queue.ticket("c:first")
    assert ticket is not None
    assert (ticket.status, ticket.agent) == ("offered", "ann")
    await queue.set_status("ann", "paused")  # she stepped away: no new offers, and this one lapses
    await queued(queue, "c:second", team="sales", now_ms=500)  # sorts before c:first by time
    assert await queue.sweep(now_ms=2**62) == 1
    order = [t.conversation_id for t in await queue.waiting("sales")]
    assert order == ["c:first", "c:second"]  # back at the very front
    ticket = await queue.ticket("c:first")
    assert ticket is not None
    assert ticket.attempts == 1
    assert not await queue.accept("ann", "c:first")  # the lapsed offer cannot be accepted any more


async def test_an_agent_whose_heartbeat_stops_loses_nothing(
    redis_client: aioredis.Redis, prefix: str
) -> None:
    queue = make_queue(redis_client, prefix, heartbeat_ttl_seconds=0.2)
    await queue.upsert_agent("ann", "Ann", ["sales"], capacity=1)
    await queue.upsert_agent("bob", "Bob", ["sales"], capacity=1)
    await queue.set_status("ann", "online")
    await queued(queue, "c:1", team="sales", now_ms=1000)
    assert await queue.accept("ann", "c:1")
    assert await queue.states.get("c:1") is Owner.AGENT
    await asyncio.sleep(0.3)  # Ann's console stops sending heartbeats
    await queue.set_status("bob", "online")  # Bob is alive: routing skips Ann, who is full anyway
    assert await queue.sweep() == 1
    assert await queue.states.get("c:1") is not Owner.BOT
    ann = await queue.agent("ann")
    assert ann is not None
    assert (ann.status, ann.load) == ("offline", 0)
    ticket = await queue.ticket("c:1")
    assert ticket is not None
    assert (ticket.status, ticket.agent) == ("offered", "bob")
    history = await queue.states.history("c:1")
    assert [(t.previous, t.current) for t in history][-2:] == [
        (Owner.QUEUED, Owner.AGENT),
        (Owner.AGENT, Owner.QUEUED),
    ]


async def test_two_instances_dispatching_at_once_never_double_assign(
    redis_client: aioredis.Redis, prefix: str
) -> None:
    settings = {"auto_assign_teams": frozenset({"sales"})}
    a = make_queue(redis_client, prefix, **settings)
    b = make_queue(redis_client, prefix, **settings)
    for i in range(8):
        await a.upsert_agent(f"agent{i}", f"Agent {i}", ["sales"], capacity=3)
    conversations = [f"c:{i}" for i in range(60)]
    for i, conversation in enumerate(conversations):
        await a.states.transition(conversation, Owner.QUEUED, actor="bot", reason="test")
        await a.enqueue(conversation, team="sales", now_ms=1000 + i)
    await asyncio.gather(*(queue.set_status(f"agent{i}", "online") for i, queue in enumerate([a, b] * 4)))
    await asyncio.gather(a.dispatch(), b.dispatch(), a.dispatch(), b.dispatch())
    held: list[str] = []
    for i in range(8):
        mine = await a.conversations_of(f"agent{i}")
        agent = await a.agent(f"agent{i}")
        assert agent is not None
        assert agent.load == len(mine) == 3
        held.extend(mine)
    assert len(held) == len(set(held)) == 24
    # The oldest 24 were served first; the other 36 still wait, in order.
    assert set(held) == set(conversations[:24])
    assert [t.conversation_id for t in await a.waiting("sales")] == conversations[24:]


async def test_take_gives_a_conversation_straight_to_an_online_agent_within_capacity(
    redis_client: aioredis.Redis, prefix: str
) -> None:
    queue = make_queue(redis_client, prefix)
    await queue.upsert_agent("ann", "Ann", ["support"], capacity=1)
    assert await queue.take("c:1", "ann", team="support") == -1  # offline: nobody to give it to
    await queue.set_status("ann", "online")
    assert await queue.take("c:1", "ann", team="support", tier="vip", channel="rest") == 1
    ticket = await queue.ticket("c:1")
    assert ticket is not None
    assert (ticket.status, ticket.agent, ticket.tier) == ("assigned", "ann", "vip")
    assert await queue.waiting("support") == []  # never in a queue, never offered to anyone else
    assert await queue.conversations_of("ann") == {"c:1"}
    agent = await queue.agent("ann")
    assert agent is not None
    assert agent.load == 1
    assert await queue.take("c:1", "ann", team="support") == 0  # already held: nothing changes twice
    assert await queue.take("c:2", "ann", team="support") == -2  # full
    # A handoff request racing the take-over finds the ticket and leaves it with Ann.
    await queue.enqueue("c:1", team="support")
    assert await queue.waiting("support") == []
    assert await queue.finish("c:1", "ann", handled_seconds=1.0)
    agent = await queue.agent("ann")
    assert agent is not None
    assert agent.load == 0
    assert await queue.take("c:2", "ann", team="support") == 1


async def test_an_agent_coming_back_online_is_never_logged_off_by_a_concurrent_sweep(
    redis_client: aioredis.Redis, prefix: str
) -> None:
    queue = make_queue(redis_client, prefix)
    await queue.upsert_agent("ann", "Ann", ["support"], capacity=2)
    for _ in range(30):
        await queue.set_status("ann", "online")
        await redis_client.delete(f"{prefix}:{{hq}}:alive:ann")  # the console's heartbeat lapsed
        # Every instance sweeps each second; the agent's console comes back at the same moment.
        await asyncio.gather(queue.sweep(), queue.set_status("ann", "online"), queue.sweep())
        agent = await queue.agent("ann")
        assert agent is not None
        assert (agent.status, agent.alive) == ("online", True)


async def test_many_agents_racing_for_the_head_place_everyone_exactly_once(
    redis_client: aioredis.Redis, prefix: str
) -> None:
    queue = make_queue(redis_client, prefix)
    agents = [f"ag{i}" for i in range(30)]
    for agent in agents:
        await queue.upsert_agent(agent, agent, ["sales"], capacity=1)
    for i in range(30):
        await queued(queue, f"c:{i}", team="sales", now_ms=1000 + i)
    # Everyone comes online at once: they all race for the same head of the queue; a loser claims the
    # next ticket it may take in one step instead of failing again and again.
    placements = await asyncio.gather(*(queue.set_status(agent, "online") for agent in agents))
    placed = [p for batch in placements for p in batch]
    assert sorted(p.conversation_id for p in placed) == sorted(f"c:{i}" for i in range(30))
    assert len({p.agent_id for p in placed}) == 30  # one each: every capacity of 1 held
    assert await queue.waiting("sales") == []
    for agent in agents:
        record = await queue.agent(agent)
        assert record is not None
        assert record.load == 1
