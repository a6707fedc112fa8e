"""The routing policy through a real engine: supervisors set it, it applies, every change is audited."""

from __future__ import annotations

import uuid
from typing import Any

import pytest_asyncio
from aiohttp.test_utils import TestClient

from staff.auth import ACCOUNTS
from tests.bot.test_agent_api import PASSWORD, login, staffed_support
from tests.conftest import EngineFactory, say


@pytest_asyncio.fixture
async def desk(trained_model: object, start_engine: EngineFactory, key_prefix: str) -> TestClient:
    client = await staffed_support(start_engine, key_prefix + "ro" + uuid.uuid4().hex[:4])
    await client.app[ACCOUNTS].set_user("sue", PASSWORD, ["supervisor", "admin"])
    return client


POLICY: dict[str, Any] = {
    "tier_boost_seconds": {"vip": 120, "regular": 0, "new": 0},
    "auto_assign_teams": ["support"],
    "offer_timeout_seconds": 60,
    "kb_misses_to_handoff": 0,
}


async def test_a_supervisor_turns_auto_assign_on_and_the_next_customer_is_assigned(
    desk: TestClient,
) -> None:
    ann = await login(desk, "ann")
    assert (await desk.get("/api/agent/routing")).status == 403, "agents do not change routing"
    assert (await desk.put("/api/agent/routing", json=POLICY, headers=ann)).status == 403
    sue = await login(desk, "sue")
    shown = await (await desk.get("/api/agent/routing")).json()
    assert shown["changed_by"] == ""
    assert shown["policy"] == shown["defaults"]
    assert "support" in shown["teams"]
    assert "billing" in shown["teams"]
    bad = await desk.put("/api/agent/routing", json={**POLICY, "offer_timeout_seconds": 1}, headers=sue)
    assert bad.status == 400
    assert (await bad.json())["field"] == "offer_timeout_seconds"
    saved = await desk.put("/api/agent/routing", json=POLICY, headers=sue)
    assert saved.status == 200, await saved.text()
    body = await saved.json()
    assert body["changed_by"] == "sue"
    assert body["policy"]["auto_assign_teams"] == ["support"]

    entries = await (await desk.get("/api/audit", params={"action": "routing_changed"})).json()
    [entry] = entries["entries"]
    assert entry["actor"] == "sue"
    assert entry["detail"]["before"]["auto_assign_teams"] == []
    assert entry["detail"]["after"]["offer_timeout_seconds"] == 60

    ann = await login(desk, "ann")
    await desk.post("/api/agent/status", json={"status": "online"}, headers=ann)
    sender = "ro-" + uuid.uuid4().hex[:6]
    await say(desk, sender, "转人工")
    me = await (await desk.get("/api/agent/me")).json()
    assert [(c["conversation"], c["status"]) for c in me["conversations"]] == [(f"rest:{sender}", "assigned")]
    await desk.post("/api/agent/status", json={"status": "offline"}, headers=ann)

    sue = await login(desk, "sue")
    assert (await desk.delete("/api/agent/routing", headers=sue)).status == 200
    assert (await desk.delete("/api/agent/routing", headers=sue)).status == 404, "already the defaults"
    back = await (await desk.get("/api/agent/routing")).json()
    assert back["policy"]["auto_assign_teams"] == []
    assert back["changed_by"] == ""
    reset = await (await desk.get("/api/audit", params={"action": "routing_reset"})).json()
    assert reset["entries"][0]["detail"]["before"]["offer_timeout_seconds"] == 60
