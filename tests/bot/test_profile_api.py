"""Profiles through the agent API, and tier-aware routing: a VIP reaches their dedicated agent first."""

from __future__ import annotations

import uuid

import pytest_asyncio
from aiohttp.test_utils import TestClient

from handoff.web.appkeys import PROFILES, QUEUE
from staff.accounts import Accounts
from staff.auth import ACCOUNTS
from tests.bot.test_agent_api import PASSWORD, login, mine_once_offered
from tests.conftest import EngineFactory, say


@pytest_asyncio.fixture(scope="session")
async def profile_engine(trained_model: object, start_engine: EngineFactory, key_prefix: str) -> TestClient:
    """An instance with a queue of its own: Dora and Eve serve support; Sue supervises."""
    client = await start_engine(instance_id="profiles", redis_prefix=key_prefix + "pf", cookie_secure=False)
    accounts: Accounts = client.app[ACCOUNTS]
    for name in ("dora", "eve"):
        await accounts.set_user(name, PASSWORD, ["agent"])
        await client.app[QUEUE].upsert_agent(name, name.title(), ["support"], capacity=1)
    await accounts.set_user("sue", PASSWORD, ["supervisor"])
    return client


async def test_a_vip_goes_to_their_dedicated_agent_while_a_regular_waits(profile_engine: TestClient) -> None:
    engine = profile_engine
    profiles = engine.app[PROFILES]
    regular, vip = "reg-" + uuid.uuid4().hex[:6], "vip-" + uuid.uuid4().hex[:6]
    await say(engine, regular, "你好")
    old = await profiles.seen(f"rest:{regular}", f"rest:{regular}")
    await profiles.update(old.id, "test", {"tier": "regular"})
    await say(engine, vip, "你好")
    star = await profiles.seen(f"rest:{vip}", f"rest:{vip}")
    await profiles.update(star.id, "test", {"lifetime_value": 50_000, "dedicated_agent": "eve"})
    # Nobody is online: both wait, the regular customer first.
    await say(engine, regular, "转人工")
    await say(engine, vip, "转人工")
    eve = await login(engine, "eve")
    online = await engine.post("/api/agent/status", json={"status": "online"}, headers=eve)
    assert online.status == 200
    assert await mine_once_offered(engine, f"rest:{vip}") == [f"rest:{vip}"]
    waiting = await (await engine.get("/api/agent/queue")).json()
    assert [t["conversation"] for t in waiting["waiting"]] == [f"rest:{regular}"]
    assert waiting["waiting"][0]["tier"] == "regular"

    # Eve reads the VIP's profile beside the conversation: the phone is masked for agents.
    await profiles.update(star.id, "test", {"phone": "13812345678", "name": "王先生"})
    seen = await (await engine.get(f"/api/agent/conversations/rest:{vip}/profile")).json()
    assert seen["profile"]["tier"] == "vip"
    assert seen["profile"]["phone"] == "138****5678"
    assert seen["conversations"] == [f"rest:{vip}"]
    assert "audit" not in seen
    note = await engine.post(
        f"/api/agent/profiles/{star.id}/notes", json={"text": "偏好电话联系"}, headers=eve
    )
    assert note.status == 200
    # Agents cannot change tiers or the dedicated agent; supervisors can, and see the phone and audit.
    denied = await engine.post(f"/api/agent/profiles/{star.id}", json={"tier": "regular"}, headers=eve)
    assert denied.status == 403
    # An agent cannot read or edit a customer who never reached their team.
    stranger = "bot-only-" + uuid.uuid4().hex[:6]
    await say(engine, stranger, "你好")
    unserved = await profiles.for_identity(f"rest:{stranger}")
    other = await engine.post(f"/api/agent/profiles/{unserved.id}", json={"name": "x"}, headers=eve)
    assert other.status == 403
    assert (await engine.get(f"/api/agent/conversations/rest:{stranger}/profile")).status == 403
    await engine.post("/api/agent/status", json={"status": "offline"}, headers=eve)

    sue = await login(engine, "sue")
    full = await (await engine.get(f"/api/agent/conversations/rest:{vip}/profile")).json()
    assert full["profile"]["phone"] == "13812345678"
    assert [n["text"] for n in full["notes"]] == ["偏好电话联系"]
    assert any(e["action"] == "updated" for e in full["audit"])
    merged = await engine.post(
        "/api/agent/profiles/merge", json={"into": star.id, "from": old.id}, headers=sue
    )
    assert merged.status == 200
    assert sorted((await merged.json())["profile"]["identities"]) == sorted(
        [f"rest:{vip}", f"rest:{regular}"]
    )
    bad = await engine.post(f"/api/agent/profiles/{star.id}", json={"tier": "gold"}, headers=sue)
    assert bad.status == 400
