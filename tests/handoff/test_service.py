"""The handoff seam: queueing is idempotent and never takes a conversation from an agent."""

from __future__ import annotations

import uuid

import redis.asyncio as aioredis

from bot.keys import Keys
from bot.state import ConversationStates, Owner
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
