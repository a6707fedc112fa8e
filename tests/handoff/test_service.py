"""The handoff seam: queueing is idempotent and never takes a conversation from an agent."""

from __future__ import annotations

import time
import uuid

import redis.asyncio as aioredis

from core.keys import Keys
from core.state import ConversationStates, Owner
from handoff.queue import HandoffQueue
from handoff.service import HandoffService


async def test_request_human_is_idempotent_and_respects_agents(
    redis_client: aioredis.Redis, key_prefix: str
) -> None:
    keys = Keys(key_prefix)
    states = ConversationStates(redis_client, keys)
    service = HandoffService(redis_client, keys, states)
    conversation = "test:" + uuid.uuid4().hex
    first = await service.request_human(conversation, "request_human")
    second = await service.request_human(conversation, "request_human")
    assert first.changed
    assert not second.changed
    await states.transition(conversation, Owner.AGENT, actor="agent:1", reason="accepted")
    third = await service.request_human(conversation, "request_human")
    assert not third.changed
    assert third.current is Owner.AGENT
    assert await states.get(conversation) is Owner.AGENT


async def test_knowledge_base_misses_count_in_a_row_and_expire(
    redis_client: aioredis.Redis, key_prefix: str
) -> None:
    keys = Keys(key_prefix)
    service = HandoffService(
        redis_client, keys, ConversationStates(redis_client, keys), kb_misses_to_handoff=2
    )
    conversation = "test:" + uuid.uuid4().hex
    assert not await service.kb_outcome(conversation, escalated=True)
    # Misses far apart are separate questions: the count forgets itself after an hour.
    assert 3590 < await redis_client.ttl(keys.kb_misses(conversation)) <= 3600
    assert await service.kb_outcome(conversation, escalated=True)  # the second in a row
    assert not await service.kb_outcome(conversation, escalated=True)  # counting starts again
    assert not await service.kb_outcome(conversation, escalated=False)  # an answer resets it
    assert not await service.kb_outcome(conversation, escalated=True)
    assert await service.kb_outcome(conversation, escalated=True)


async def test_no_kb_handoff_when_switched_off(redis_client: aioredis.Redis, key_prefix: str) -> None:
    keys = Keys(key_prefix)
    service = HandoffService(
        redis_client, keys, ConversationStates(redis_client, keys), kb_misses_to_handoff=0
    )
    conversation = "test:" + uuid.uuid4().hex
    assert not any([await service.kb_outcome(conversation, escalated=True) for _ in range(5)])


def _queueing(client: aioredis.Redis, prefix: str) -> tuple[ConversationStates, HandoffQueue, HandoffService]:
    """Return states, queue and a support-team service under their own key prefix."""
    keys = Keys(prefix)
    states = ConversationStates(client, keys)
    queue = HandoffQueue(client, prefix, states)
    return states, queue, HandoffService(client, keys, states, queue, team="support")


async def test_a_conversation_left_queued_without_a_ticket_by_a_dead_instance_is_queued_again(
    redis_client: aioredis.Redis, key_prefix: str
) -> None:
    states, queue, service = _queueing(redis_client, f"{key_prefix}rp{uuid.uuid4().hex[:6]}")
    await queue.upsert_agent("ann", "Ann", ["support"], capacity=1)
    await queue.set_status("ann", "online")
    # The instance handling "转人工" moved the conversation to QUEUED, then died before the enqueue.
    await states.transition("rest:lost", Owner.QUEUED, actor="bot", reason="request_human")
    # A request refused (an agent holds that conversation) leaves only a stale index entry.
    await states.transition("rest:held", Owner.AGENT, actor="agent:bob", reason="taken over")
    assert not (await service.request_human("rest:held", "request_human")).changed
    now = int(time.time() * 1000)
    assert await service.repair(now_ms=now) == 0  # within the grace period a live request may finish
    assert await service.repair(now_ms=now + 20_000) == 1
    ticket = await queue.ticket("rest:lost")
    assert ticket is not None
    assert (ticket.status, ticket.agent) == ("offered", "ann")  # placed at once: nothing was dropped
    assert await states.queued_before(now + 20_000) == ["rest:lost"]
    assert await service.repair(now_ms=now + 40_000) == 0  # mended once


async def test_repair_reads_many_waiting_conversations_in_batches_and_mends_only_the_lost(
    redis_client: aioredis.Redis, key_prefix: str
) -> None:
    states, queue, service = _queueing(redis_client, f"{key_prefix}:rp-{uuid.uuid4().hex[:6]}")
    # A peak: 40 customers wait with their tickets (nobody is online), 3 lost theirs, 2 were taken.
    for n in range(40):
        assert (await service.request_human(f"rest:w{n}", "request_human")).changed
    for n in range(3):
        await states.transition(f"rest:lost{n}", Owner.QUEUED, actor="bot", reason="request_human")
    for n in range(2):
        await states.transition(f"rest:gone{n}", Owner.QUEUED, actor="bot", reason="request_human")
        await states.transition(f"rest:gone{n}", Owner.AGENT, actor="agent:bob", reason="taken over")
    later = int(time.time() * 1000) + 20_000
    assert await service.repair(now_ms=later) == 3
    assert all([await queue.ticket(f"rest:lost{n}") is not None for n in range(3)])
    waiting = await states.queued_before(later)
    assert len(waiting) == 43
    assert not any(c.startswith("rest:gone") for c in waiting)
    assert await service.repair(now_ms=later) == 0
