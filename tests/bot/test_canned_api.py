"""Canned replies over the agent API: agents keep their own, supervisors keep the shared ones."""

from __future__ import annotations

import uuid

import pytest_asyncio
from aiohttp.test_utils import TestClient

from staff.accounts import Accounts
from staff.auth import ACCOUNTS
from tests.bot.test_agent_api import PASSWORD, login
from tests.conftest import EngineFactory


@pytest_asyncio.fixture
async def desk(trained_model: object, start_engine: EngineFactory, key_prefix: str) -> TestClient:
    prefix = key_prefix + "cn" + uuid.uuid4().hex[:4]
    client = await start_engine(instance_id="canned-" + prefix, redis_prefix=prefix, cookie_secure=False)
    accounts: Accounts = client.app[ACCOUNTS]
    await accounts.set_user("ann", PASSWORD, ["agent"])
    await accounts.set_user("sue", PASSWORD, ["supervisor"])
    return client


async def test_shared_replies_are_the_supervisors_and_personal_ones_each_agents(desk: TestClient) -> None:
    ann = await login(desk, "ann")
    refused = await desk.put("/api/agent/canned/shared/hi", json={"text": "您好"}, headers=ann)
    assert refused.status == 403
    saved = await desk.put(
        "/api/agent/canned/personal/物流", json={"text": "请稍等，我查一下物流"}, headers=ann
    )
    assert saved.status == 200, await saved.text()
    bad = await desk.put("/api/agent/canned/personal/two%20words", json={"text": "x"}, headers=ann)
    assert bad.status == 400
    assert "one word" in (await bad.json())["error"]

    sue = await login(desk, "sue")
    assert (await desk.put("/api/agent/canned/shared/hi", json={"text": "您好！"}, headers=sue)).status == 200
    assert (await desk.get("/api/agent/canned")).status == 200

    ann = await login(desk, "ann")
    replies = (await (await desk.get("/api/agent/canned")).json())["replies"]
    assert [(r["shortcut"], r["scope"], r["text"]) for r in replies] == [
        ("物流", "personal", "请稍等，我查一下物流"),
        ("hi", "shared", "您好！"),
    ]
    assert (await desk.delete("/api/agent/canned/shared/hi", headers=ann)).status == 403
    assert (await desk.delete("/api/agent/canned/personal/物流", headers=ann)).status == 200
    assert (await desk.delete("/api/agent/canned/personal/物流", headers=ann)).status == 404
    desk.session.cookie_jar.clear()
    assert (await desk.get("/api/agent/canned")).status == 401
