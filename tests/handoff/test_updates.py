"""Waiting customers are told when their place changes meaningfully, once, in their language."""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence

import pytest
import redis.asyncio as aioredis

from handoff import updates
from handoff.queue import Position
from tests.handoff.test_queue import make_queue, queued


@pytest.mark.parametrize(
    ("told", "now", "seconds_later", "tell"),
    [
        ("4:400:0", Position(1, 100), 5, True),  # next: always, at once
        ("5:500:0", Position(2, 200), 5, False),  # a real move, but told less than a minute ago
        ("5:500:0", Position(2, 200), 61, True),  # moved up 3
        ("30:3000:0", Position(22, 2200), 61, False),  # moved 8 of 30: less than a third
        ("30:3000:0", Position(20, 2000), 61, True),  # a third
        ("9:600:0", Position(9, 1200), 61, False),  # same place: the wait alone never re-tells the place
        ("9:600:0", Position(8, 1200), 61, True),  # one up, but the wait doubled (agents went offline)
        ("9:600:0", Position(8, 540), 61, False),
    ],
)
def test_what_counts_as_a_meaningful_change(told: str, now: Position, seconds_later: int, tell: bool) -> None:
    assert updates.meaningful(told, now, seconds_later * 1000) is tell


async def test_customers_who_moved_up_are_told_once_across_instances(
    shared_redis: aioredis.Redis, key_prefix: str
) -> None:
    queue = make_queue(shared_redis, f"{key_prefix}up{uuid.uuid4().hex[:6]}")
    start = int(time.time() * 1000) - 120_000
    conversations = [f"c:{i}" for i in range(1, 8)]
    for i, conversation in enumerate(conversations, start=1):
        first = "where is my parcel" if i == 7 else "我的快递到哪了"
        await queued(queue, conversation, team="sales", first_message=first, now_ms=start + i)
        await queue.set_told(conversation, "", updates.encode(Position(i, i * 100.0), start))
    said: list[tuple[str, str]] = []

    async def tell(conversation_id: str, text: str, buttons: Sequence[tuple[str, str]]) -> None:
        assert not buttons
        said.append((conversation_id, text))

    assert await updates.tell_changes(queue, tell) == 0  # nobody moved
    # An agent comes online and takes the first three: everyone else moves up three places.
    await queue.upsert_agent("ann", "Ann", ["sales"], capacity=3)
    placed = await queue.set_status("ann", "online")
    assert [p.conversation_id for p in placed] == conversations[:3]
    for _ in range(2):  # two instances sweeping: each customer hears it once
        await updates.tell_changes(queue, tell)
    assert [c for c, _ in said] == conversations[3:]
    assert said[0][1] == "您是下一位，客服马上为您服务。"
    assert said[1][1].startswith("排队更新：您现在排在第 2 位，预计等待约")
    assert said[3][1].startswith("Queue update: you are now number 4;")
    # A conversation placed meanwhile is not told anything.
    assert not await queue.set_told("c:1", "", "1:0:0")


async def test_a_customer_waiting_past_the_limit_is_offered_to_leave_a_message_once(
    redis_client: aioredis.Redis, key_prefix: str
) -> None:
    queue = make_queue(redis_client, f"{key_prefix}lw{uuid.uuid4().hex[:6]}")
    now = int(time.time() * 1000)
    await queued(queue, "c:long", team="sales", first_message="any news?", now_ms=now - 700_000)
    await queued(queue, "c:short", team="sales", first_message="在吗", now_ms=now - 60_000)
    for i, conversation in enumerate(("c:long", "c:short"), start=1):
        await queue.set_told(conversation, "", updates.encode(Position(i, i * 300.0), now - 50_000))
    said: list[tuple[str, str, list[tuple[str, str]]]] = []

    async def tell(conversation_id: str, text: str, buttons: Sequence[tuple[str, str]]) -> None:
        said.append((conversation_id, text, list(buttons)))

    for _ in range(2):
        await updates.tell_changes(queue, tell, now_ms=now, max_wait_seconds=600)
    assert said == [
        (
            "c:long",
            "The wait is long; you can also leave a message and an agent will reply.",
            [("Leave a message", "/leave_message")],
        )
    ]
