"""Transfers between agents and teams, and the supervisor's overview, over the agent API."""

from __future__ import annotations

import uuid

import pytest_asyncio
from aiohttp.test_utils import TestClient

from bot.appkeys import SERVICES
from core.state import Owner
from handoff.web.appkeys import QUEUE, STATES
from staff.accounts import Accounts
from staff.auth import ACCOUNTS
from tests.bot.test_agent_api import PASSWORD, login, mine_once_offered
from tests.conftest import EngineFactory, say, texts


async def staffed_desk(start_engine: EngineFactory, prefix: str) -> TestClient:
    """Start an instance on ``prefix``: Gus and Ivy in support, Hal in billing, Sue supervising."""
    client = await start_engine(instance_id="desk-" + prefix, redis_prefix=prefix, cookie_secure=False)
    accounts: Accounts = client.app[ACCOUNTS]
    for name, team in (("gus", "support"), ("ivy", "support"), ("hal", "billing")):
        await accounts.set_user(name, PASSWORD, ["agent"])
        await client.app[QUEUE].upsert_agent(name, name.title(), [team], capacity=2)
    await accounts.set_user("sue", PASSWORD, ["supervisor"])
    return client


@pytest_asyncio.fixture
async def desk(trained_model: object, start_engine: EngineFactory, key_prefix: str) -> TestClient:
    """A staffed instance of this test's own, so no other test's queue can leak into it."""
    return await staffed_desk(start_engine, key_prefix + "sv" + uuid.uuid4().hex[:4])


async def online(engine: TestClient, name: str, expect: str = "") -> tuple[dict[str, str], list[str]]:
    """Log in and go online; return the headers and the agent's conversations (once ``expect`` is one)."""
    headers = await login(engine, name)
    response = await engine.post("/api/agent/status", json={"status": "online"}, headers=headers)
    assert response.status == 200
    return headers, await mine_once_offered(engine, expect, timeout=5.0 if expect else 0.1)


async def test_transfer_to_a_team_with_a_note_then_a_supervisor_reassigns(desk: TestClient) -> None:
    sender = "tr-" + uuid.uuid4().hex[:6]
    conversation = f"rest:{sender}"
    await say(desk, sender, "转人工")
    gus, offered = await online(desk, "gus", conversation)
    assert offered == [conversation]
    assert (
        await desk.post("/api/agent/accept", json={"conversation": conversation}, headers=gus)
    ).status == 200

    # Gus hands it to billing; nobody there is online yet, so it waits in billing's queue.
    moved = await desk.post(
        f"/api/agent/conversations/{conversation}/transfer",
        json={"team": "billing", "note": "客户要开专票，请财务处理"},
        headers=gus,
    )
    assert moved.status == 200, await moved.text()
    assert (await moved.json())["place"] == 1
    me = await (await desk.get("/api/agent/me")).json()
    assert me["load"] == 0
    # The sweeper's safety-net dispatch must not hand it back to Gus, though he is the only one free.
    await desk.app[QUEUE].sweep()
    assert await desk.app[QUEUE].conversations_of("gus") == set()
    again = await desk.post(
        f"/api/agent/conversations/{conversation}/transfer", json={"team": "support"}, headers=gus
    )
    assert again.status == 403  # no longer his
    # The transfer counts on Gus's scorecard, once (the refused second try is no transfer).
    transfers = [e for e in await desk.app[SERVICES].events.events() if e.kind.value == "transfer"]
    assert [(e.conversation, e.agent, e.team, e.detail) for e in transfers] == [
        (conversation, "gus", "support", "billing")
    ]

    hal, offered = await online(desk, "hal", conversation)
    assert offered == [conversation]
    assert (
        await desk.post("/api/agent/accept", json={"conversation": conversation}, headers=hal)
    ).status == 200
    lines = (await (await desk.get(f"/api/agent/conversations/{conversation}")).json())["lines"]
    assert lines[0]["text"] == "转人工"  # the receiver sees everything, the bot's part included
    notes = [line for line in lines if "客户要开专票，请财务处理" in line["text"]]
    assert [(n["role"], n["author"]) for n in notes] == [("system", "gus")]

    # The supervisor sees queues, agents and live conversations, and reassigns to a named agent: it
    # goes to Ivy although Gus, of the same team, is free too.
    await online(desk, "ivy")
    sue = await login(desk, "sue")
    view = await (await desk.get("/api/agent/overview")).json()
    assert {a["id"]: (a["status"], a["load"]) for a in view["agents"]} == {
        "gus": ("online", 0),
        "hal": ("online", 1),
        "ivy": ("online", 0),
    }
    assert [c["conversation"] for c in view["conversations"]] == [conversation]
    assert set(view["teams"]) == {"support", "billing"}
    reassigned = await desk.post(
        f"/api/agent/conversations/{conversation}/transfer",
        json={"agent": "ivy", "note": "ivy 跟进"},
        headers=sue,
    )
    assert reassigned.status == 200
    await login(desk, "ivy")
    ivy = await (await desk.get("/api/agent/me")).json()
    assert [c["conversation"] for c in ivy["conversations"]] == [conversation]
    bad = await desk.post(
        f"/api/agent/conversations/{conversation}/transfer", json={"team": "nowhere"}, headers=sue
    )
    assert bad.status == 403  # offered, not yet held: nothing to transfer

    gus = await login(desk, "gus")
    assert (await desk.get("/api/agent/overview")).status == 403
    for name in ("gus", "hal", "ivy"):
        headers = await login(desk, name)
        await desk.post("/api/agent/status", json={"status": "offline"}, headers=headers)


async def test_an_agent_takes_over_a_bot_conversation_proactively(desk: TestClient) -> None:
    sender = "to-" + uuid.uuid4().hex[:6]
    conversation = f"rest:{sender}"
    assert "1–3 个工作日" in texts(await say(desk, sender, "退款多久能到账？"))

    gus = await login(desk, "gus")
    listed = await (await desk.get("/api/agent/bot-conversations")).json()
    row = next(c for c in listed["conversations"] if c["conversation"] == conversation)
    assert (row["channel"], row["last_message"], row["turns"]) == ("rest", "退款多久能到账？", 1)
    refused = await desk.post(f"/api/agent/conversations/{conversation}/takeover", headers=gus)
    assert (refused.status, (await refused.json())["error"]) == (409, "go online first")

    gus, _ = await online(desk, "gus")
    taken = await desk.post(f"/api/agent/conversations/{conversation}/takeover", headers=gus)
    assert taken.status == 200, await taken.text()
    assert await desk.app[STATES].get(conversation) is Owner.AGENT
    last = (await desk.app[STATES].history(conversation))[-1]
    assert (last.actor, last.reason) == ("agent:gus", "taken over from the bot")
    twice = await desk.post(f"/api/agent/conversations/{conversation}/takeover", headers=gus)
    assert twice.status == 409  # a retried request changes nothing twice
    me = await (await desk.get("/api/agent/me")).json()
    assert [(c["conversation"], c["status"]) for c in me["conversations"]] == [(conversation, "assigned")]
    listed = await (await desk.get("/api/agent/bot-conversations")).json()
    assert conversation not in [c["conversation"] for c in listed["conversations"]]

    # The bot falls silent; the agent's reply reaches the customer.
    assert await say(desk, sender, "还有一个问题") == []
    sent = await desk.post(
        f"/api/agent/conversations/{conversation}/messages", json={"text": "您好，我来帮您"}, headers=gus
    )
    assert sent.status == 200

    # Within capacity (2): one more is fine, a third is refused.
    others = ["to-" + uuid.uuid4().hex[:6] for _ in range(2)]
    for other in others:
        await say(desk, other, "你好")
    assert (await desk.post(f"/api/agent/conversations/rest:{others[0]}/takeover", headers=gus)).status == 200
    full = await desk.post(f"/api/agent/conversations/rest:{others[1]}/takeover", headers=gus)
    assert (full.status, (await full.json())["error"]) == (409, "you are at your capacity")
    # Billing's Hal is not in the team bot conversations are handed to.
    hal = await login(desk, "hal")
    assert (await desk.get("/api/agent/bot-conversations")).status == 403
    assert (await desk.post(f"/api/agent/conversations/rest:{others[1]}/takeover", headers=hal)).status == 403

    gus = await login(desk, "gus")
    closed = await desk.post(f"/api/agent/conversations/{conversation}/close", headers=gus)
    assert closed.status == 200
    me = await (await desk.get("/api/agent/me")).json()
    assert me["load"] == 1
    await desk.post("/api/agent/status", json={"status": "offline"}, headers=gus)
