"""Complaint deadlines, escalation by levels and the customer's sign-off, on the real test Redis.

Two `Complaints` on two connections play two engine instances sweeping the same cases at once.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import uuid
from collections.abc import AsyncIterator, Sequence

import pytest
import pytest_asyncio
import redis.asyncio as aioredis

from core.keys import Keys
from core.redis import async_client, close_async
from core.transcript import Transcripts
from handoff.complaints import CaseError, Complaints, Policy, Signoff, Status, Targets, escalate_due
from handoff.hours import Hours
from tests.handoff.test_complaints import Clock

HOUR = 3600.0
# Targets: 60 minutes to respond, 10 hours to resolve; at risk at 8 h, overdue at 10 h, reassigned at 15 h.
POLICY = Policy(
    by_severity={"一般": Targets(60, 600), "严重": Targets(30, 240), "紧急": Targets(15, 60)},
    supervisors={"support": "sue"},
    business_hours=False,
    confirm_hours=24,
)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def prefix(key_prefix: str) -> str:
    return key_prefix + "esc" + uuid.uuid4().hex[:4]


@pytest_asyncio.fixture
async def second_client(shared_url: str) -> AsyncIterator[aioredis.Redis]:
    """A client of its own on the deployment, as a second engine instance has."""
    client = async_client(shared_url)
    yield client
    await close_async(client)


class Recorder:
    """A `Deliver` that keeps what it was asked to send."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, list[tuple[str, str]]]] = []

    async def __call__(
        self, conversation_id: str, text: str, author: str, buttons: Sequence[tuple[str, str]] = ()
    ) -> None:
        self.sent.append((conversation_id, text, list(buttons)))


async def _actions(cases: Complaints, case_id: str) -> list[str]:
    return [change.action for change in await cases.history(case_id)]


async def test_two_instances_escalate_a_case_once_per_level_up_to_the_supervisor(
    shared_redis: aioredis.Redis, second_client: aioredis.Redis, prefix: str, clock: Clock
) -> None:
    one = Complaints(shared_redis, prefix, POLICY, clock)
    two = Complaints(second_client, prefix, POLICY, clock)
    case, _ = await one.open("p1", "rest:e1", "快递丢了", channel="rest", team="support", actor="bot")
    await one.move(case.id, Status.IN_PROGRESS, "agent:gus", owner="gus")
    events = shared_redis.pubsub()
    await events.subscribe(one.keys.all_events)

    async def sweep_both() -> int:
        done = await asyncio.gather(*(c for _ in range(4) for c in (escalate_due(one), escalate_due(two))))
        return sum(done)

    clock.now += 7.9 * HOUR
    assert await sweep_both() == 0, "not yet at risk"
    clock.now += 0.2 * HOUR
    assert await sweep_both() == 1
    clock.now += 1.0 * HOUR
    assert await sweep_both() == 0, "at risk once, and not yet overdue"
    clock.now += 1.0 * HOUR
    assert await sweep_both() == 1
    clock.now += 5.0 * HOUR
    assert await sweep_both() == 1
    assert await sweep_both() == 0, "nothing above the last level"

    now = await one.get(case.id)
    assert now is not None
    assert (now.level, now.owner, now.team, now.status) == (3, "sue", "support", Status.IN_PROGRESS)
    actions = await _actions(one, case.id)
    assert actions == [
        "opened",
        "in_progress",
        "escalated:at_risk",
        "escalated:overdue",
        "escalated:reassigned",
    ]
    assert not await shared_redis.zscore(one.keys.escalate, case.id)
    seen = []
    # The subscribe confirmation reads as None too: read until a quiet spell, not until the first None.
    quiet = 0
    while quiet < 3:
        message = await events.get_message(ignore_subscribe_messages=True, timeout=0.1)
        quiet = quiet + 1 if message is None else 0
        if message is not None:
            seen.append(json.loads(message["data"]))
    await events.reset()
    escalations = [(e["level"], e["notify"]) for e in seen if e["event"] == "escalated"]
    assert escalations == [("at_risk", "gus"), ("overdue", "sue"), ("reassigned", "sue")]


async def test_a_resolved_case_stops_its_clock_and_a_reopened_one_resumes_it(
    redis_client: aioredis.Redis, prefix: str, clock: Clock
) -> None:
    cases = Complaints(redis_client, prefix, POLICY, clock)
    case, _ = await cases.open("p2", "rest:e2", "退款没到", channel="rest", team="support", actor="bot")
    await cases.move(case.id, Status.IN_PROGRESS, "agent:gus", owner="gus")
    await cases.move(case.id, Status.RESOLVED, "agent:gus", "已退款")
    clock.now += 12 * HOUR
    assert await escalate_due(cases) == 0, "waiting for the customer is not the agent's time"
    await cases.move(case.id, Status.REOPENED, "customer")
    assert await escalate_due(cases) == 1, "reopened with the clock running: at risk at once"
    reopened = await cases.get(case.id)
    assert reopened is not None
    assert (reopened.owner, reopened.level) == ("gus", 1)


async def test_deadlines_count_only_the_teams_opening_hours(
    redis_client: aioredis.Redis, prefix: str, clock: Clock
) -> None:
    hours = Hours(redis_client, prefix)
    weekdays = {day: ["09:00-12:00", "13:00-18:00"] for day in ("mon", "tue", "wed", "thu", "fri")}
    await hours.set("support", {"timezone": "Asia/Shanghai", "weekly": weekdays, "holidays": ["2026-12-07"]})
    policy = Policy(
        by_severity={"一般": Targets(120, 600), "严重": Targets(60, 240), "紧急": Targets(15, 60)}
    )
    cases = Complaints(redis_client, prefix, policy, clock, calendar=hours.get)
    shanghai = dt.timezone(dt.timedelta(hours=8))
    # Friday 2026-12-04 17:00: one working hour left that day, Monday the 7th a holiday.
    clock.now = dt.datetime(2026, 12, 4, 17, 0, tzinfo=shanghai).timestamp()
    case, _ = await cases.open("p3", "rest:e3", "质量问题", channel="rest", team="support", actor="bot")

    def local(stamp: float) -> dt.datetime:
        return dt.datetime.fromtimestamp(stamp, shanghai).replace(tzinfo=None)

    assert local(case.respond_by) == dt.datetime(2026, 12, 8, 10, 0), "1 h Friday + 1 h Tuesday"
    # 10 h: 1 h Friday, then Tuesday's 8 h, then 1 h on Wednesday.
    assert local(case.resolve_by) == dt.datetime(2026, 12, 9, 10, 0)
    unknown_team, _ = await cases.open("p4", "rest:e4", "x", channel="rest", team="nocal", actor="bot")
    assert unknown_team.resolve_by == clock.now + 600 * 60, "a team without a calendar is always open"


async def test_the_customer_confirms_or_reopens_once_and_silence_closes_unconfirmed(
    redis_client: aioredis.Redis, prefix: str, clock: Clock
) -> None:
    cases = Complaints(redis_client, prefix, POLICY, clock)
    deliver = Recorder()
    signoff = Signoff(cases, deliver, Transcripts(redis_client, Keys(prefix)))
    conversation = "rest:" + uuid.uuid4().hex[:6]
    case, _ = await cases.open("p5", conversation, "商品破损", channel="rest", team="support", actor="bot")
    resolved = await cases.move(case.id, Status.RESOLVED, "agent:gus", "已补发")
    await signoff.ask(resolved, "已补发")
    ((to, text, buttons),) = deliver.sent
    assert to == conversation
    assert case.id in text
    assert "已补发" in text
    assert buttons == [("已解决", f"/case_solved {case.id}"), ("未解决", f"/case_unsolved {case.id}")]
    asked = await redis_client.get(cases.keys.asked(conversation))
    assert asked == case.id

    assert await signoff.answer("rest:someone-else", f"/case_solved {case.id}", None) is None
    reply = await signoff.answer(conversation, "2", asked)
    assert reply is not None
    assert "重新打开" in reply
    reopened = await cases.get(case.id)
    assert reopened is not None
    assert reopened.status is Status.REOPENED
    assert not await redis_client.get(cases.keys.asked(conversation))

    await cases.move(case.id, Status.RESOLVED, "agent:gus", "已退款")
    reply = await signoff.answer(conversation, f"/case_solved {case.id}", case.id)
    assert reply is not None
    assert "已关闭" in reply
    before = await _actions(cases, case.id)
    replay = await signoff.answer(conversation, f"/case_solved {case.id}", None)
    assert replay is not None
    assert "无需再次确认" in replay
    assert await _actions(cases, case.id) == before, "a replayed tap changes nothing"
    assert before[-1] == "confirmed"

    other, _ = await cases.open("p6", "rest:e6", "没人回复", channel="rest", team="support", actor="bot")
    await cases.move(other.id, Status.RESOLVED, "agent:gus", "已回复")
    clock.now += 23 * HOUR
    assert await signoff.close_silent() == 0
    clock.now += 2 * HOUR
    assert await signoff.close_silent() == 1
    closed = await cases.get(other.id)
    assert closed is not None
    assert closed.status is Status.CLOSED_UNCONFIRMED
    assert not await redis_client.zscore(cases.keys.awaiting, other.id)


def test_complaint_settings_are_validated() -> None:
    policy = Policy.parse(
        {
            "categories": ["物流", "其他"],
            "targets": [
                {"severity": "一般", "respond_minutes": 30, "resolve_minutes": 120},
                {"severity": "紧急", "category": "物流", "respond_minutes": 5, "resolve_minutes": 30},
            ],
            "supervisors": {"support": "sue"},
            "at_risk_share": 0.75,
        }
    )
    assert policy.targets("一般", "物流") == Targets(30, 120)
    assert policy.targets("紧急", "物流") == Targets(5, 30)
    assert policy.shares == (0.75, 1.0, 1.5)
    with pytest.raises(CaseError, match="unknown complaint settings: colour"):
        Policy.parse({"colour": "red"})
    with pytest.raises(CaseError, match="a target needs"):
        Policy.parse({"targets": [{"severity": "一般"}]})
    with pytest.raises(CaseError, match="at_risk_share"):
        Policy.parse({"at_risk_share": 1.2})
