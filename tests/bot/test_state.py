"""The ownership state machine against a real Redis."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import redis.asyncio as aioredis

from core.keys import Keys
from core.state import ALLOWED, ConversationStates, IllegalTransition, Owner


@pytest.fixture
def states(redis_client: aioredis.Redis, key_prefix: str) -> ConversationStates:
    return ConversationStates(redis_client, Keys(key_prefix))


@pytest.fixture
def conversation() -> str:
    return "test:" + uuid.uuid4().hex


async def test_new_conversation_belongs_to_the_bot(states: ConversationStates, conversation: str) -> None:
    assert await states.get(conversation) is Owner.BOT
    assert await states.history(conversation) == []


async def test_full_cycle_is_logged_with_actor_and_reason(
    states: ConversationStates, conversation: str
) -> None:
    steps = [
        (Owner.QUEUED, "bot", "request_human"),
        (Owner.AGENT, "agent:7", "accepted"),
        (Owner.CLOSED, "agent:7", "resolved"),
        (Owner.BOT, "customer", "new message"),
    ]
    for target, actor, reason in steps:
        result = await states.transition(conversation, target, actor=actor, reason=reason)
        assert result.changed
        assert result.current is target
    log = await states.history(conversation)
    assert [(t.previous, t.current, t.actor, t.reason) for t in log] == [
        (Owner.BOT, Owner.QUEUED, "bot", "request_human"),
        (Owner.QUEUED, Owner.AGENT, "agent:7", "accepted"),
        (Owner.AGENT, Owner.CLOSED, "agent:7", "resolved"),
        (Owner.CLOSED, Owner.BOT, "customer", "new message"),
    ]
    assert all(t.at_ms > 0 for t in log)


async def test_repeated_transition_changes_nothing_twice(
    states: ConversationStates, conversation: str
) -> None:
    first = await states.transition(conversation, Owner.QUEUED, actor="bot", reason="r")
    again = await states.transition(conversation, Owner.QUEUED, actor="bot", reason="r")
    assert first.changed
    assert not again.changed
    assert len(await states.history(conversation)) == 1


@pytest.mark.parametrize(
    ("source", "target"),
    [(s, t) for s in Owner for t in Owner if s is not t and t not in ALLOWED[s]],
)
async def test_illegal_transitions_are_refused(
    states: ConversationStates, conversation: str, source: Owner, target: Owner
) -> None:
    path = {
        Owner.BOT: [],
        Owner.QUEUED: [Owner.QUEUED],
        Owner.AGENT: [Owner.QUEUED, Owner.AGENT],
        Owner.CLOSED: [Owner.QUEUED, Owner.AGENT, Owner.CLOSED],
    }[source]
    for step in path:
        await states.transition(conversation, step, actor="t", reason="setup")
    with pytest.raises(IllegalTransition):
        await states.transition(conversation, target, actor="t", reason="illegal")
    assert await states.get(conversation) is source


async def test_expected_state_guards_a_transition(states: ConversationStates, conversation: str) -> None:
    await states.transition(conversation, Owner.QUEUED, actor="bot", reason="r")
    await states.transition(conversation, Owner.AGENT, actor="agent:1", reason="r")
    # AGENT → QUEUED is legal (a transfer), but not when the caller believed the bot still owned it.
    with pytest.raises(IllegalTransition):
        await states.transition(conversation, Owner.QUEUED, actor="bot", reason="r", expected=Owner.BOT)
    assert await states.get(conversation) is Owner.AGENT


async def test_concurrent_claims_have_exactly_one_winner(
    states: ConversationStates, conversation: str
) -> None:
    await states.transition(conversation, Owner.QUEUED, actor="bot", reason="r")
    results = await asyncio.gather(
        *(
            states.transition(
                conversation, Owner.AGENT, actor=f"agent:{i}", reason="claim", expected=Owner.QUEUED
            )
            for i in range(20)
        ),
        return_exceptions=True,
    )
    winners = [r for r in results if not isinstance(r, BaseException) and r.changed]
    assert len(winners) == 1
    log = await states.history(conversation)
    assert [t.actor for t in log if t.current is Owner.AGENT] == [winners[0].actor]
