"""Complaint cases through the engine: opened by the dialogue, worked through the agent API, role-checked."""

from __future__ import annotations

import re
import uuid

from aiohttp.test_utils import TestClient

from tests.bot.test_agent_api import login
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
