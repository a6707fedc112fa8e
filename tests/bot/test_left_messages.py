"""留言: outside business hours or instead of a long wait, a customer leaves a message agents take first."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest_asyncio
from aiohttp.test_utils import TestClient

from core.state import Owner
from handoff.web.appkeys import QUEUE, STATES
from staff.accounts import Accounts
from staff.auth import ACCOUNTS
from tests.bot.test_agent_api import PASSWORD, login, staffed_support
from tests.conftest import EngineFactory, say, texts

CLOSED_ALL_WEEK = {"timezone": "Asia/Shanghai", "weekly": {}}


async def staffed(start_engine: EngineFactory, prefix: str, **settings: object) -> TestClient:
    client = await staffed_support(start_engine, prefix, **settings)
    accounts: Accounts = client.app[ACCOUNTS]
    await accounts.set_user("sue", PASSWORD, ["supervisor"])
    return client


@pytest_asyncio.fixture
async def desk(trained_model: object, start_engine: EngineFactory, key_prefix: str) -> TestClient:
    return await staffed(start_engine, key_prefix + "lm" + uuid.uuid4().hex[:4])


async def test_outside_hours_the_customer_leaves_a_message_an_agent_takes_first_thing(
    desk: TestClient,
) -> None:
    sue = await login(desk, "sue")
    bad = await desk.put("/api/agent/hours/support", json={"weekly": {"mon": ["9-18"]}}, headers=sue)
    assert bad.status == 400
    assert (await desk.put("/api/agent/hours/support", json=CLOSED_ALL_WEEK, headers=sue)).status == 200
    hours = await (await desk.get("/api/agent/hours")).json()
    assert hours["teams"]["support"]["open"] is False

    sender = "lm-" + uuid.uuid4().hex[:6]
    conversation = f"rest:{sender}"
    assert "非工作时间" in texts(await say(desk, sender, "转人工"))
    assert await desk.app[STATES].get(conversation) is Owner.BOT  # nobody to queue for
    assert await desk.app[QUEUE].ticket(conversation) is None
    assert "已收到您的留言" in texts(await say(desk, sender, "订单 12345 一直没发货，<b>请尽快</b>处理"))
    # The next message is the bot's again.
    assert "工作日" in texts(await say(desk, sender, "退款多久到账"))

    ann = await login(desk, "ann")
    listed = (await (await desk.get("/api/agent/left-messages")).json())["messages"]
    assert [(m["conversation"], m["text"]) for m in listed] == [
        (conversation, "订单 12345 一直没发货，<b>请尽快</b>处理")
    ]
    message_id = listed[0]["id"]
    offline = await desk.post(f"/api/agent/left-messages/{message_id}/claim", headers=ann)
    assert (offline.status, (await offline.json())["error"]) == (409, "go online first")
    await desk.post("/api/agent/status", json={"status": "online"}, headers=ann)
    claimed = await desk.post(f"/api/agent/left-messages/{message_id}/claim", headers=ann)
    assert claimed.status == 200, await claimed.text()
    assert await desk.app[STATES].get(conversation) is Owner.AGENT
    assert (await (await desk.get("/api/agent/left-messages")).json())["messages"] == []
    me = await (await desk.get("/api/agent/me")).json()
    assert [(c["conversation"], c["status"]) for c in me["conversations"]] == [(conversation, "assigned")]
    carl = await login(desk, "carl")  # billing: not his team's message
    assert (await desk.post(f"/api/agent/left-messages/{message_id}/claim", headers=carl)).status == 404
    bob = await login(desk, "bob")
    assert (await desk.post(f"/api/agent/left-messages/{message_id}/claim", headers=bob)).status == 409

    sue = await login(desk, "sue")
    # The reports count the message left (the offline_message event), once.
    figures = (await (await desk.get("/api/reports/summary")).json())["figures"]
    assert figures["human"]["offline_messages"] == 1
    assert (await desk.delete("/api/agent/hours/support", headers=sue)).status == 200
    ann = await login(desk, "ann")
    await desk.post("/api/agent/status", json={"status": "offline"}, headers=ann)


@pytest_asyncio.fixture
async def slow_desk(trained_model: object, start_engine: EngineFactory, key_prefix: str) -> TestClient:
    """An instance where any wait over a second is a long one."""
    return await staffed(start_engine, key_prefix + "lw" + uuid.uuid4().hex[:4], handoff_max_wait_seconds=1)


async def test_a_customer_facing_a_long_wait_may_leave_a_message_instead(slow_desk: TestClient) -> None:
    desk = slow_desk
    sender = "lw-" + uuid.uuid4().hex[:6]
    conversation = f"rest:{sender}"
    replies = await say(desk, sender, "转人工")
    assert "排在第 1 位" in texts(replies)
    assert [(b["title"], b["payload"]) for b in replies[-1]["buttons"]] == [("留言", "/leave_message")]  # type: ignore[index, union-attr]
    assert await desk.app[STATES].get(conversation) is Owner.QUEUED
    assert "请直接输入您的留言" in texts(await say(desk, sender, "/leave_message"))
    assert await desk.app[STATES].get(conversation) is Owner.BOT
    assert await desk.app[QUEUE].ticket(conversation) is None  # out of the queue
    assert "已收到您的留言" in texts(await say(desk, sender, "明天上午给我回电话"))
    await login(desk, "bob")
    listed = (await (await desk.get("/api/agent/left-messages")).json())["messages"]
    assert [m["text"] for m in listed] == ["明天上午给我回电话"]


async def test_a_holiday_list_file_is_read_for_supervisors_and_named_holidays_close_the_team(
    desk: TestClient,
) -> None:
    notice = (Path(__file__).parents[1] / "data" / "holidays" / "2025-notice.txt").read_bytes()
    raw = {"Content-Type": "application/octet-stream"}
    ann = await login(desk, "ann")  # an agent: reading a holiday list is the supervisor's
    assert (await desk.post("/api/agent/holiday-list", data=notice, headers={**ann, **raw})).status == 403
    sue = await login(desk, "sue")
    read = await desk.post("/api/agent/holiday-list", data=notice, headers={**sue, **raw})
    days = (await read.json())["days"]
    assert read.status == 200
    assert len([d for d in days if d["off"]]) == 28
    assert {"date": "2025-01-26", "name": "春节", "off": False} in days
    bad = await desk.post("/api/agent/holiday-list", data=b"{oops", headers={**sue, **raw})
    assert bad.status == 400
    assert "not JSON" in (await bad.json())["error"]
    huge = await desk.post("/api/agent/holiday-list", data=b"x" * 1_000_001, headers={**sue, **raw})
    assert huge.status == 413
    year = await desk.post("/api/agent/holiday-list?year=abc", data=notice, headers={**sue, **raw})
    assert year.status == 400

    today = dt.datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat()
    always = {d: ["00:00-24:00"] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    schedule = {"timezone": "Asia/Shanghai", "weekly": always, "holidays": {today: "店庆"}}
    assert (await desk.put("/api/agent/hours/support", json=schedule, headers=sue)).status == 200
    hours = (await (await desk.get("/api/agent/hours")).json())["teams"]["support"]
    assert hours["open"] is False
    assert hours["schedule"]["holidays"] == {today: "店庆"}
    long_name = {**schedule, "holidays": {today: "节" * 41}}
    assert (await desk.put("/api/agent/hours/support", json=long_name, headers=sue)).status == 400
    # The older form, a list of dates, still reads.
    listed = {**schedule, "holidays": [today]}
    assert (await desk.put("/api/agent/hours/support", json=listed, headers=sue)).status == 200
    assert "非工作时间" in texts(await say(desk, "lm-" + uuid.uuid4().hex[:6], "转人工"))
