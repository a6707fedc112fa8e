"""Service events on the real test Redis: recorded once, rolled up, rebuilt, turned into metrics."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import socket
import uuid

import pytest
import redis.asyncio as aioredis

from core.redis import async_client, close_async
from reports.events import ServiceEvents
from reports.export import mask, rows
from reports.metrics import Costs, cube_tallies, summary, tallies
from reports.presence import PresenceTime
from reports.rebuild import rebuild
from reports.scorecards import card
from tests.handoff.test_complaints import Clock


async def test_scripted_conversations_give_exactly_the_expected_metrics(
    redis_client: aioredis.Redis, key_prefix: str
) -> None:
    clock = Clock()
    events = ServiceEvents(redis_client, key_prefix + "rp" + uuid.uuid4().hex[:4], clock=clock)
    second = ServiceEvents(redis_client, events.keys.base.removesuffix(":{rp}"), clock=clock)
    assert second.keys == events.keys

    # A: bot only, answered by the KB. B: handed over, waits 30 s, first agent reply 45 s after the
    # handoff, closed 600 s after it, rated 5. C: bot only, but the customer is back within the window.
    for conversation, message in (("rest:a", "a1"), ("rest:b", "b1"), ("rest:c", "c1")):
        await events.customer_message(conversation, message)
    await events.observe("bot_reply", "rest:a", key="a1", value=0.4)
    await events.observe("kb_answer", "rest:a", key="a1", detail="answer")
    await events.observe("handoff", "rest:b", key="t1", detail="asked", team="support")
    await events.observe("assigned", "rest:b", key="t1", team="support", agent="ann", value=30)
    await events.observe("agent_first_reply", "rest:b", key="t1", team="support", agent="ann", value=45)
    # Retries and a second instance: the same keys count once.
    await second.observe("agent_first_reply", "rest:b", key="t1", team="support", agent="ann", value=45)
    await events.customer_message("rest:b", "b1")
    await events.observe("closed", "rest:b", key="t1", team="support", agent="ann", detail="agent", value=600)
    await events.observe("rating", "rest:b", key="t1", team="support", agent="ann", detail="5", value=5)
    await events.observe("rating_human", "rest:b", key="t1", team="support", agent="ann", detail="5", value=5)
    clock.now += 3 * 3600  # past the 30-minute idle time, inside the 24-hour window
    await events.customer_message("rest:c", "c2")

    costs = Costs(agent_per_hour=60, bot_per_conversation=0.5)
    figures = summary(tallies(await events.days(*_days(events, clock))), costs)
    assert figures["volume"] == {"conversations": 4, "customer_messages": 4, "bot_only": 3, "handed_over": 1}
    assert figures["human"]["closed"] == 1
    assert figures["human"]["first_response_seconds"]["mean"] == 45.0
    assert figures["human"]["queue_wait_seconds"]["mean"] == 30.0
    assert figures["containment"] == {"contained": 2, "rate": 0.5, "recontacts": 1, "escalation_rate": 0.25}
    human_csat = {"responses": 1, "satisfied_share": 1.0, "response_rate": 1.0, "by_score": {"5": 1}}
    assert figures["csat"] == {
        **human_csat,
        "bot": {"responses": 0, "satisfied_share": None, "by_score": {}},
        "human": human_csat,
    }
    # Resolved: the two contained (of the three bot-only openings, C's first one came back) and B,
    # closed by Ann; of four openings.
    assert figures["resolution"] == {"resolved": 3, "rate": 0.75}
    assert figures["bot"]["kb_shares"] == {"answer": 1.0}
    # 600 s of an agent at 60/h = 10; 4 conversations × 0.5 = 2.
    assert figures["cost"]["total"] == 12.0
    assert figures["cost"]["per_handed_over_conversation"] == 10.5
    assert figures["cost"]["saving_from_containment"] == 20.0

    # Ann's own figures: a filter on the agent dimension (bot-only conversations have none).
    ann = summary(tallies(await events.days(*_days(events, clock)), lambda d: d["agent"] == "ann"), Costs())
    assert ann["human"]["closed"] == 1
    assert ann["volume"]["conversations"] == 0

    # The cubes give the same figures for no filter and for one filter.
    assert summary(cube_tallies(await events.cubes(*_days(events, clock))), costs) == figures
    assert summary(cube_tallies(await events.cubes(*_days(events, clock)), "agent=ann"), Costs()) == ann

    grid = await events.heat(*_days(events, clock), "customer_message")
    assert sum(map(sum, grid)) == 4, "every message once in the heat map"

    # One row per opening of a conversation, from the same events.
    table = {(r.conversation, r.recontact): r for r in rows(await events.events(), events.zone)}
    b = table[("rest:b", False)]
    assert (b.handed_over, b.agent, b.queue_wait_seconds, b.first_response_seconds, b.rating) == (
        True,
        "ann",
        30.0,
        45.0,
        5,
    )
    assert b.customer_messages == 1, "the retried message counts once"
    assert table[("rest:c", True)].customer_messages == 1, "the customer's return is a row of its own"
    assert mask("wechat:oAbcdefxyz") == "wechat:oA***yz"

    before = await events.days(*_days(events, clock))
    assert await rebuild(events) == len(await events.events())
    assert await events.days(*_days(events, clock)) == before, "the roll-ups rebuild to the same numbers"


def _days(events: ServiceEvents, clock: Clock) -> tuple:  # type: ignore[type-arg]
    import datetime as dt

    first = dt.datetime.strptime(events.day_of(clock.now - 4 * 3600), "%Y%m%d").date()
    last = dt.datetime.strptime(events.day_of(clock.now), "%Y%m%d").date()
    return first, last


async def test_with_redis_away_an_event_is_logged_as_lost_and_never_fails_the_caller(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = async_client(f"redis://127.0.0.1:{port}/0")
    events = ServiceEvents(client, "tgone")
    try:
        with caplog.at_level(logging.WARNING, logger="reports.events"):
            for i in range(3):
                await events.customer_message("rest:x", f"m{i}")
                await events.observe("bot_reply", "rest:x", key=f"m{i}", value=0.2)
        assert events.lost == 6
        assert [r.getMessage() for r in caplog.records] == ["service event not recorded"], (
            "logged once, not six times"
        )
    finally:
        await close_async(client)


async def test_presence_time_comes_from_status_changes_and_feeds_utilisation(
    redis_client: aioredis.Redis, key_prefix: str
) -> None:
    clock = Clock()
    events = ServiceEvents(redis_client, key_prefix + "rp" + uuid.uuid4().hex[:4], clock=clock)
    presence = PresenceTime(events, grace_seconds=30)

    async def stay(seconds: int) -> None:
        """The console beats every 5 s for ``seconds``."""
        for _ in range(seconds // 5):
            clock.now += 5
            await presence.seen("ann")

    await presence.changed("ann", "online", "support")
    await stay(3600)
    await presence.changed("ann", "paused", "support")
    await stay(600)
    await presence.changed("ann", "online", "support")
    await stay(1800)
    await presence.changed("ann", "offline", "support")
    clock.now += 50 * 3600  # offline time is no presence
    await presence.changed("ann", "online", "support")
    await events.observe("closed", "rest:z", key="z", agent="ann", team="support", value=5400)
    first, last = _days(events, clock)
    tallied = cube_tallies(await events.cubes(first - dt.timedelta(days=3), last), "agent=ann")
    ann = card(tallied, None, capacity=2)
    assert (ann["online_seconds"], ann["paused_seconds"]) == (5400.0, 600.0)
    # 5,400 s of handling over 5,400 s online with 2 slots: half the slots busy.
    assert ann["utilisation"] == 0.5


async def test_a_console_gone_quiet_ends_the_stretch_a_heartbeat_lifetime_after_its_last_beat(
    redis_client: aioredis.Redis, key_prefix: str
) -> None:
    clock = Clock()
    events = ServiceEvents(redis_client, key_prefix + "rp" + uuid.uuid4().hex[:4], clock=clock)
    presence = PresenceTime(events, grace_seconds=30)
    other_instance = PresenceTime(events, grace_seconds=30)
    await presence.changed("bob", "online", "support")
    for _ in range(20):  # 100 s of heartbeats, then the browser dies
        clock.now += 5
        await presence.seen("bob")
    clock.now += 20
    await presence.sweep(["bob"])  # 20 s quiet: still within a heartbeat lifetime, nothing ended
    clock.now += 3 * 3600
    await presence.sweep(["bob"])  # hours later: the stretch ends at the last beat + 30 s
    await other_instance.sweep(["bob"])  # a second instance's sweep counts nothing more
    clock.now += 3600
    await presence.seen("bob")  # the console is back, the status still online: a new stretch
    for _ in range(12):
        clock.now += 5
        await presence.seen("bob")
    await presence.changed("bob", "offline", "support")
    first, last = _days(events, clock)
    bob = card(
        cube_tallies(await events.cubes(first - dt.timedelta(days=3), last), "agent=bob"), None, capacity=1
    )
    # 130 s (100 s of beats + 30 s) and 60 s: not the 4 h 2 min between going online and offline.
    assert bob["online_seconds"] == 190.0
    # Without a sweep the stretch still ends at the last beat + 30 s, when the next beat or change comes.
    await presence.changed("cy", "paused", "support")
    clock.now += 10
    await presence.seen("cy")
    clock.now += 7200
    await presence.changed("cy", "offline", "support")
    first, last = _days(events, clock)
    cy = card(
        cube_tallies(await events.cubes(first - dt.timedelta(days=3), last), "agent=cy"), None, capacity=1
    )
    assert cy["paused_seconds"] == 40.0


async def test_a_message_and_the_bot_reply_are_recorded_together_even_after_redis_lost_its_scripts(
    redis_client: aioredis.Redis, key_prefix: str
) -> None:
    clock = Clock()
    events = ServiceEvents(redis_client, key_prefix + "rp" + uuid.uuid4().hex[:4], clock=clock)
    await events.customer_message("rest:s", "s1", bot_reply_seconds=0.25)
    await redis_client.script_flush()  # what a restarted Redis without persistence forgets
    await events.customer_message("rest:s", "s2", bot_reply_seconds=0.5)
    await events.customer_message("rest:s", "s2", bot_reply_seconds=0.5)  # a retried webhook
    figures = summary(tallies(await events.days(*_days(events, clock))), Costs())
    assert figures["volume"]["conversations"] == 1
    assert figures["volume"]["customer_messages"] == 2
    assert figures["bot"]["first_response_seconds"]["mean"] == 0.38, "(0.25 + 0.5) / 2, rounded"
    assert events.lost == 0


async def test_steps_observed_during_a_turn_are_recorded_with_its_message(
    redis_client: aioredis.Redis, key_prefix: str
) -> None:
    events = ServiceEvents(redis_client, key_prefix + "df" + uuid.uuid4().hex[:6])
    late = asyncio.Event()

    async def after_the_turn() -> None:
        await late.wait()
        await events.observe("assigned", "rest:d", key="a1", agent="ann", value=3.0)

    async with events.deferring():
        await events.observe("kb_answer", "rest:d", key="k1", detail="answered")
        assert await events.events() == [], "held for the message"
        task = asyncio.create_task(after_the_turn())  # started inside, observes after the end
        await events.customer_message("rest:d", "m1", bot_reply_seconds=0.2)
    late.set()
    await task
    kinds = [e.kind.value for e in await events.events()]
    assert kinds == ["opened", "customer_message", "kb_answer", "bot_reply", "assigned"]

    # A turn that fails before its message is recorded still records what it observed.
    async def failing_turn() -> None:
        async with events.deferring():
            await events.observe("handoff", "rest:d", key="h1", detail="asked")
            raise RuntimeError("the turn failed")

    with pytest.raises(RuntimeError):
        await failing_turn()
    assert [e.kind.value for e in await events.events()][-1] == "handoff"


async def test_a_customer_back_on_another_channel_is_a_recontact_of_their_profile(
    redis_client: aioredis.Redis, key_prefix: str
) -> None:
    clock = Clock()
    events = ServiceEvents(redis_client, key_prefix + "rp" + uuid.uuid4().hex[:4], clock=clock)
    # Li asks on WeChat, then two hours later on Telegram: one person (one merged profile), so the
    # WeChat conversation did not settle it. Wang writes on two channels never linked to one profile.
    await events.customer_message("wechat:oLi", "w1", customer="profile-li", bot_reply_seconds=0.3)
    await events.customer_message("wechat:oWang", "w2", bot_reply_seconds=0.3)
    clock.now += 2 * 3600
    await events.customer_message("telegram:11", "t1", customer="profile-li", bot_reply_seconds=0.3)
    await events.customer_message("telegram:22", "t2", bot_reply_seconds=0.3)
    figures = summary(tallies(await events.days(*_days(events, clock))), Costs())
    assert figures["volume"]["conversations"] == 4
    assert figures["containment"]["recontacts"] == 1
    assert figures["containment"]["contained"] == 3  # Li's WeChat conversation is not contained
