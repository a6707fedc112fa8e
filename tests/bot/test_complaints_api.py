"""Complaint cases through the engine: opened by the dialogue, worked through the agent API, role-checked."""

from __future__ import annotations

import re
import uuid

from aiohttp.test_utils import TestClient

from tests.bot.test_agent_api import login
from tests.bot.test_closing import outbox
from tests.bot.test_supervise_api import desk  # noqa: F401  (fixture: a staffed instance of its own)
from tests.conftest import say, texts


async def test_a_complaint_becomes_a_case_that_its_team_works_and_others_cannot_touch(
    desk: TestClient,  # noqa: F811
) -> None:
    sender = "cp-" + uuid.uuid4().hex[:6]
    replies = await say(desk, sender, "你们服务太差了，我要投诉")
    found = re.search(r"工单号 (TS\d{6})", texts(replies))
    assert found, replies
    case_id = found.group(1)
    base = f"/api/agent/complaints/{case_id}"

    # Hal is in billing: the support team's case is not his to see or touch.
    hal = await login(desk, "hal")
    assert (await desk.get(base)).status == 404
    assert case_id not in {c["id"] for c in (await (await desk.get("/api/agent/complaints")).json())["cases"]}
    assert (await desk.post(base + "/take", headers=hal)).status == 404

    gus = await login(desk, "gus")
    listed = (await (await desk.get("/api/agent/complaints?status=open")).json())["cases"]
    (mine,) = [c for c in listed if c["id"] == case_id]
    assert (mine["team"], mine["conversations"]) == ("support", [f"rest:{sender}"])
    assert (await desk.get("/api/agent/complaints?status=nonsense")).status == 400
    taken = await desk.post(base + "/take", headers=gus)
    assert taken.status == 200, await taken.text()
    assert (await taken.json())["owner"] == "gus"
    assert (await desk.post(base + "/notes", json={"text": "已联系物流"}, headers=gus)).status == 200

    # Ivy is in support too, but the case is Gus's: she may not resolve it.
    ivy = await login(desk, "ivy")
    assert (await desk.post(base + "/resolve", headers=ivy)).status == 403
    gus = await login(desk, "gus")
    resolved = await desk.post(base + "/resolve", json={"detail": "已补发"}, headers=gus)
    assert resolved.status == 200
    assert (await resolved.json())["status"] == "resolved"
    again = await desk.post(base + "/resolve", headers=gus)
    assert again.status == 409, "a resolved case waits for the customer"

    sue = await login(desk, "sue")
    case = await (await desk.get(base)).json()
    assert [h["action"] for h in case["history"]] == ["opened", "in_progress", "note", "resolved"]
    assert case["history"][1]["actor"] == "agent:gus"
    assert (await desk.post(base + "/resolve", headers=sue)).status == 409


async def test_opening_a_case_from_the_console_checks_its_input(desk: TestClient) -> None:  # noqa: F811
    gus = await login(desk, "gus")
    conversation = "rest:cp-" + uuid.uuid4().hex[:6]
    body = {"conversation": conversation, "description": "包裹破损", "category": "物流", "severity": "严重"}
    opened = await desk.post("/api/agent/complaints", json=body, headers=gus)
    assert opened.status == 201, await opened.text()
    case = await opened.json()
    assert case["resolve_by"] - case["opened_at"] == 24 * 3600
    same = await desk.post("/api/agent/complaints", json=body, headers=gus)
    assert same.status == 200
    assert (await same.json())["id"] == case["id"], "one open case per customer and conversation"
    for bad, status in (
        ({**body, "category": "天气"}, 400),
        ({**body, "severity": "特急"}, 400),
        ({"conversation": conversation}, 400),
        ({**body, "team": "billing"}, 403),
    ):
        response = await desk.post("/api/agent/complaints", json=bad, headers=gus)
        assert response.status == status, (bad, await response.text())
    unknown = await desk.get("/api/agent/complaints/TS999999")
    assert unknown.status == 404


async def test_the_customer_signs_off_a_resolved_case_in_their_channel(desk: TestClient) -> None:  # noqa: F811
    sender = "so-" + uuid.uuid4().hex[:6]
    replies = await say(desk, sender, "快递一直没到，我要投诉")
    found = re.search(r"工单号 (TS\d{6})", texts(replies))
    assert found, replies
    case_id = found.group(1)
    base = f"/api/agent/complaints/{case_id}"
    gus = await login(desk, "gus")
    assert (await desk.post(base + "/take", headers=gus)).status == 200
    assert (
        await desk.post(base + "/resolve", json={"detail": "已补发，单号 SF1"}, headers=gus)
    ).status == 200

    asked = [m for m in await outbox(desk, sender) if case_id in str(m["text"])]
    assert asked
    assert "已补发，单号 SF1" in str(asked[-1]["text"])
    assert asked[-1]["buttons"] == [
        {"title": "已解决", "payload": f"/case_solved {case_id}"},
        {"title": "未解决", "payload": f"/case_unsolved {case_id}"},
    ]

    # "Not solved" typed as the numbered fallback reopens the case to Gus.
    assert "重新打开" in texts(await say(desk, sender, "2"))
    case = await (await desk.get(base, headers=gus)).json()
    assert (case["status"], case["owner"]) == ("reopened", "gus")

    assert (await desk.post(base + "/resolve", json={"detail": "已退款"}, headers=gus)).status == 200
    assert "已关闭" in texts(await say(desk, sender, f"/case_solved {case_id}"))
    again = texts(await say(desk, sender, f"/case_solved {case_id}"))
    assert "无需再次确认" in again, "a replayed tap is answered and changes nothing"
    case = await (await desk.get(base, headers=gus)).json()
    actions = [h["action"] for h in case["history"]]
    assert actions[-3:] == ["reopened", "resolved", "confirmed"]
    assert actions.count("confirmed") == 1
    # Someone else's case number in a typed payload is an ordinary message, not a sign-off.
    stranger = texts(await say(desk, "so-other-" + uuid.uuid4().hex[:4], f"/case_unsolved {case_id}"))
    assert "重新打开" not in stranger
    assert (await (await desk.get(base, headers=gus)).json())["status"] == "confirmed"


async def test_supervisors_filter_reassign_and_escalate_cases(desk: TestClient) -> None:  # noqa: F811
    gus = await login(desk, "gus")
    conversation = "rest:fl-" + uuid.uuid4().hex[:6]
    body = {"conversation": conversation, "description": "发票开错", "category": "退款", "severity": "紧急"}
    case = await (await desk.post("/api/agent/complaints", json=body, headers=gus)).json()
    base = f"/api/agent/complaints/{case['id']}"
    assert (await desk.post(base + "/reassign", json={"owner": "ivy"}, headers=gus)).status == 403
    assert (await desk.post(base + "/escalate", headers=gus)).status == 403, "not Gus's case yet"

    sue = await login(desk, "sue")
    listed = await (await desk.get("/api/agent/complaints?severity=紧急&category=退款", headers=sue)).json()
    assert case["id"] in {c["id"] for c in listed["cases"]}
    assert listed["now"] >= case["opened_at"]
    assert "物流" in listed["categories"]
    assert (await desk.get("/api/agent/complaints?severity=特急", headers=sue)).status == 400
    overdue = await (await desk.get("/api/agent/complaints?overdue=1", headers=sue)).json()
    assert case["id"] not in {c["id"] for c in overdue["cases"]}
    for bad in ({"owner": "nobody-here"}, {"owner": 5}, {"team": ""}):
        assert (await desk.post(base + "/reassign", json=bad, headers=sue)).status == 400, bad
    moved = await desk.post(base + "/reassign", json={"owner": "ivy"}, headers=sue)
    assert moved.status == 200
    assert (await moved.json())["owner"] == "ivy"
    for level in (1, 2, 3):
        escalated = await desk.post(base + "/escalate", headers=sue)
        assert escalated.status == 200
        assert (await escalated.json())["level"] == level
    assert (await desk.post(base + "/escalate", headers=sue)).status == 409, "no level above the last"
    history = [h["action"] for h in (await (await desk.get(base, headers=sue)).json())["history"]]
    assert history == [
        "opened",
        "reassigned",
        "escalated:at_risk",
        "escalated:overdue",
        "escalated:reassigned",
    ]
    ivy = await login(desk, "ivy")
    mine = await (await desk.get("/api/agent/complaints?mine=1", headers=ivy)).json()
    assert case["id"] not in {c["id"] for c in mine["cases"]}, "the last level took it from Ivy"
