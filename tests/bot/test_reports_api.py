"""Service events through a real engine: a bot-only and a handed-over conversation, then the report."""

from __future__ import annotations

import csv
import io
import uuid

import openpyxl
from aiohttp.test_utils import TestClient

from handoff.web.appkeys import QUEUE
from tests.bot.test_agent_api import login, mine_once_offered
from tests.bot.test_supervise_api import desk  # noqa: F401  (fixture: a staffed instance of its own)
from tests.conftest import say


async def test_the_report_counts_each_step_once_and_keeps_bot_and_human_apart(
    desk: TestClient,  # noqa: F811
) -> None:
    for name in ("gus", "hal", "ivy"):
        await desk.app[QUEUE].set_status(name, "offline")
    asker, waiter = "rp-a-" + uuid.uuid4().hex[:6], "rp-b-" + uuid.uuid4().hex[:6]
    await say(desk, asker, "退款多久到账")
    await say(desk, waiter, "转人工")
    conversation = f"rest:{waiter}"
    gus = await login(desk, "gus")
    await desk.post("/api/agent/status", json={"status": "online"}, headers=gus)
    assert await mine_once_offered(desk, conversation) == [conversation]
    assert (
        await desk.post("/api/agent/accept", json={"conversation": conversation}, headers=gus)
    ).status == 200
    for text in ("您好，我是 Gus", "请问订单号是多少？"):
        sent = await desk.post(
            f"/api/agent/conversations/{conversation}/messages", json={"text": text}, headers=gus
        )
        assert sent.status == 200
    assert (await desk.post(f"/api/agent/conversations/{conversation}/close", headers=gus)).status == 200
    await say(desk, waiter, "满意")
    await desk.post("/api/agent/status", json={"status": "offline"}, headers=gus)
    assert (await desk.get("/api/reports/summary")).status == 403, "agents do not read the reports"

    await login(desk, "sue")
    report = await (await desk.get("/api/reports/summary")).json()
    figures = report["figures"]
    assert figures["volume"]["conversations"] == 2
    assert figures["volume"]["handed_over"] == 1
    assert figures["volume"]["bot_only"] == 1
    assert figures["handoff_reasons"] == {"asked": 1}
    assert figures["handoff_rates"] == {"asked": 0.5}, "one of the two conversations asked for a human"
    assert figures["human"]["closed"] == 1
    assert figures["human"]["first_response_seconds"]["mean"] is not None, "two replies, one first reply"
    assert figures["human"]["queue_wait_seconds"]["mean"] is not None
    assert figures["csat"]["by_score"] == {"4": 1}
    assert figures["bot"]["kb_answers"] >= 1
    assert figures["complaints"]["opened"] == 0
    assert report["previous"]["figures"]["volume"]["conversations"] == 0
    human = figures["human"]
    assert (human["queued"], human["offered"], human["reopened"]) == (1, 1, 0)
    # Handling counts from the assignment (accept → close: seconds here), plain and in opening hours
    # (support has no schedule: always open, so the same).
    assert human["handling_seconds"]["mean"] < 60
    assert human["handling_in_hours_seconds"]["mean"] == human["handling_seconds"]["mean"]
    assert figures["resolution"] == {"resolved": 2, "rate": 1.0}, "the bot's and Gus's"
    assert figures["csat"]["human"]["by_score"] == {"4": 1}
    assert figures["csat"]["bot"]["responses"] == 0
    assert figures["cost"]["per_resolved_conversation"] is not None

    heat = await (await desk.get("/api/reports/heatmap")).json()
    assert sum(map(sum, heat["grid"])) == 3, "the three customer messages, by weekday and hour"
    assert (await desk.get("/api/reports/heatmap?kind=nonsense")).status == 400

    exported = await desk.get("/api/reports/conversations")
    assert exported.status == 200
    lines = (await exported.read()).decode("utf-8-sig").splitlines()
    assert lines[0].startswith("conversation,channel,opened_at")
    assert len(lines) == 3, "one row per conversation"
    assert all(waiter not in line and asker not in line for line in lines), "user ids are masked"
    workbook = openpyxl.load_workbook(
        io.BytesIO(await (await desk.get("/api/reports/conversations?format=xlsx")).read())
    )
    assert workbook.active.max_row == 3
    assert (await desk.get("/api/reports/conversations?format=pdf")).status == 400

    gus_only = await (await desk.get("/api/reports/summary?agent=gus")).json()
    assert gus_only["figures"]["human"]["closed"] == 1
    assert gus_only["figures"]["volume"]["conversations"] == 0, "opening a conversation is the bot's"
    for bad in ("from=2026-13-01", "from=2026-12-02&to=2026-12-01", "from=2025-01-01&to=2026-12-01"):
        assert (await desk.get(f"/api/reports/summary?{bad}")).status == 400, bad

    cards = await (await desk.get("/api/reports/scorecards?team=support")).json()
    rows = {row["agent"]: row for row in cards["agents"]}
    assert set(rows) == {"gus", "ivy"}, "Hal is in billing"
    gus_card = rows["gus"]["figures"]
    assert (gus_card["conversations"], gus_card["ratings"], gus_card["csat_satisfied_share"]) == (1, 1, 1.0)
    assert gus_card["first_response_seconds"] is not None
    assert gus_card["online_seconds"] is not None, "Gus went online, then offline"
    assert gus_card["utilisation"] is not None
    assert rows["ivy"]["figures"]["conversations"] == 0
    assert rows["gus"]["team_median"]["conversations"] == 0.5, "the median of Gus's 1 and Ivy's 0"
    sheet = await desk.get("/api/reports/scorecards?team=support&format=csv")
    assert 'filename="scorecards-' in sheet.headers["Content-Disposition"]
    header, *agents = list(csv.reader((await sheet.read()).decode("utf-8-sig").splitlines()))
    assert header[:5] == ["agent", "name", "team", "conversations", "conversations_team_median"]
    by_agent = {line[0]: dict(zip(header, line, strict=True)) for line in agents}
    assert set(by_agent) == {"gus", "ivy"}
    assert (by_agent["gus"]["conversations"], by_agent["gus"]["conversations_team_median"]) == ("1", "0.5")
    book = openpyxl.load_workbook(
        io.BytesIO(await (await desk.get("/api/reports/scorecards?team=support&format=xlsx")).read())
    )
    assert book.sheetnames == ["scorecards"]
    assert [c.value for c in book.active[1]] == header
    assert book.active.max_row == 3
    assert (await desk.get("/api/reports/scorecards?format=pdf")).status == 400
    # The customer Gus helped asks for a human again the same day: that close did not settle it.
    await say(desk, waiter, "转人工")
    again = (await (await desk.get("/api/reports/summary")).json())["figures"]["human"]
    assert (again["reopened"], again["reopen_rate"]) == (1, 1.0)
    await login(desk, "gus")
    mine = await (await desk.get("/api/reports/scorecards/mine")).json()
    assert [row["agent"] for row in mine["agents"]] == ["gus"]
    assert (await desk.get("/api/reports/scorecards")).status == 403
