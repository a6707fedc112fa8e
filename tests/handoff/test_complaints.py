"""Complaint cases on the real test Redis: opened once per customer and topic, moved as statuses allow."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import redis.asyncio as aioredis

from handoff.complaints import CaseError, Complaints, Policy, Status, Targets


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def cases(redis_client: aioredis.Redis, key_prefix: str, clock: Clock) -> Complaints:
    policy = Policy(matrix={("紧急", "物流"): Targets(5, 60)})
    return Complaints(redis_client, key_prefix + "cs" + uuid.uuid4().hex[:4], policy, clock)


async def test_a_complaint_opens_one_case_per_customer_and_topic_even_under_retries(
    cases: Complaints,
) -> None:
    topic = "rest:" + uuid.uuid4().hex[:8]
    opened = await asyncio.gather(
        *(
            cases.open("p1", topic, "快递三天没到", channel="rest", team="support", actor="bot")
            for _ in range(5)
        )
    )
    assert len({case.id for case, _ in opened}) == 1
    assert sum(created for _, created in opened) == 1
    case = opened[0][0]
    assert case.id.startswith("TS")
    assert (case.status, case.category, case.severity) == (Status.OPEN, "其他", "一般")
    actions = [change.action for change in await cases.history(case.id)]
    assert actions == ["opened"] + ["complained_again"] * 4
    other, created = await cases.open(
        "p1", "rest:other", "退款没到", channel="rest", team="support", actor="bot"
    )
    assert created
    assert other.id != case.id


async def test_deadlines_come_from_the_severity_and_category_matrix(cases: Complaints, clock: Clock) -> None:
    plain, _ = await cases.open("p2", "t1", "客服态度差", channel="rest", team="support", actor="bot")
    assert plain.respond_by - clock.now == 4 * 3600
    assert plain.resolve_by - clock.now == 48 * 3600
    urgent, _ = await cases.open(
        "p2", "t2", "货丢了", channel="rest", team="support", actor="bot", category="物流", severity="紧急"
    )
    assert (urgent.respond_by - clock.now, urgent.resolve_by - clock.now) == (5 * 60, 60 * 60)


async def test_unknown_category_or_severity_is_refused_and_keeps_nothing(cases: Complaints) -> None:
    for category, severity in (("天气", "一般"), ("物流", "特急")):
        with pytest.raises(CaseError):
            await cases.open(
                "p3", "t", "x", channel="rest", team="s", actor="bot", category=category, severity=severity
            )
    _, created = await cases.open("p3", "t", "x", channel="rest", team="s", actor="bot")
    assert created, "the refused attempts reserved nothing"


async def test_a_case_moves_only_as_its_status_allows_and_every_move_is_in_its_history(
    cases: Complaints, clock: Clock
) -> None:
    case, _ = await cases.open("p4", "t", "商品有质量问题", channel="rest", team="support", actor="bot")
    with pytest.raises(CaseError):
        await cases.move(case.id, Status.CONFIRMED, "agent:gus")  # only a resolved case is confirmed
    clock.now += 60
    taken = await cases.move(case.id, Status.IN_PROGRESS, "agent:gus", owner="gus")
    assert (taken.status, taken.owner) == (Status.IN_PROGRESS, "gus")
    await cases.note(case.id, "agent:gus", "已联系仓库补发")
    await cases.move(case.id, Status.RESOLVED, "agent:gus", "补发单号 SF123")
    reopened = await cases.move(case.id, Status.REOPENED, "customer", "还没收到")
    assert reopened.owner == "gus", "a reopened case goes back to its owner"
    await cases.move(case.id, Status.RESOLVED, "agent:gus")
    await cases.move(case.id, Status.CONFIRMED, "customer")
    with pytest.raises(CaseError):
        await cases.move(case.id, Status.REOPENED, "customer")  # final
    with pytest.raises(KeyError):
        await cases.move("TS999999", Status.RESOLVED, "agent:gus")
    history = await cases.history(case.id)
    assert [c.action for c in history] == [
        "opened",
        "in_progress",
        "note",
        "resolved",
        "reopened",
        "resolved",
        "confirmed",
    ]
    assert history[1].at == clock.now
    assert history[1].actor == "agent:gus"
    # Confirmed is final: the customer's next complaint about the same topic is a new case.
    again, created = await cases.open("p4", "t", "又坏了", channel="rest", team="support", actor="bot")
    assert created
    assert again.id != case.id
