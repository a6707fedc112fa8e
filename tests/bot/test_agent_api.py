"""Human handoff end to end over HTTP: customer on the REST channel, agents on the agent API."""

from __future__ import annotations

import asyncio
import uuid

import pytest_asyncio
from aiohttp.test_utils import TestClient

from bot.appkeys import SERVICES
from handoff.web.appkeys import CSAT, QUEUE
from staff.accounts import Accounts
from staff.auth import ACCOUNTS
from tests.conftest import EngineFactory, read_outbox, say, texts

PASSWORD = "agent password 1"


@pytest_asyncio.fixture(scope="session")
async def support_engine(trained_model: object, start_engine: EngineFactory, key_prefix: str) -> TestClient:
    """An instance with a queue of its own (other tests' handoffs must not reach these agents)."""
    return await staffed_support(start_engine, key_prefix + "ag")


async def staffed_support(start_engine: EngineFactory, prefix: str, **settings: object) -> TestClient:
    """Start an instance on ``prefix`` with Ann and Bob in support and Carl in billing."""
    client = await start_engine(
        instance_id="agents-" + prefix, redis_prefix=prefix, cookie_secure=False, **settings
    )
    accounts: Accounts = client.app[ACCOUNTS]
    queue = client.app[QUEUE]
    for name, team in (("ann", "support"), ("bob", "support"), ("carl", "billing")):
        await accounts.set_user(name, PASSWORD, ["agent"])
        await queue.upsert_agent(name, name.title(), [team], capacity=2)
    return client


async def mine_once_offered(engine: TestClient, conversation: str, timeout: float = 5.0) -> list[str]:
    """Return the logged-in agent's conversations once ``conversation`` is among them (or at timeout).

    Going online offers waiting work, but so does the sweeper on every instance, whichever runs first:
    the status call's own ``offered`` list may be empty because the sweeper already made the offer.
    """
    mine: list[str] = []
    for _ in range(int(timeout / 0.1)):
        me = await (await engine.get("/api/agent/me")).json()
        mine = [c["conversation"] for c in me["conversations"]]
        if conversation in mine:
            break
        await asyncio.sleep(0.1)
    return mine


async def login(engine: TestClient, name: str) -> dict[str, str]:
    engine.session.cookie_jar.clear()
    response = await engine.post("/api/login", json={"username": name, "password": PASSWORD})
    assert response.status == 200, await response.text()
    return {"X-CSRF-Token": (await response.json())["csrf"]}


async def test_customer_agent_round_trip_and_back_to_the_bot(support_engine: TestClient) -> None:
    engine = support_engine
    sender = "cust-" + uuid.uuid4().hex[:8]
    conversation = f"rest:{sender}"
    await say(engine, sender, "退款多久到账")
    replies = await say(engine, sender, "转人工")
    assert "转接人工" in texts(replies)
    assert "排在第 1 位" in texts(replies)

    headers = await login(engine, "ann")
    status = await engine.post("/api/agent/status", json={"status": "online"}, headers=headers)
    assert status.status == 200
    assert await mine_once_offered(engine, conversation) == [conversation]
    waiting_view = await (await engine.get("/api/agent/me")).json()
    assert [c["conversation"] for c in waiting_view["conversations"]] == [conversation]
    assert waiting_view["conversations"][0]["first_message"] == "转人工"

    # Replying before accepting is refused; accepting makes the conversation Ann's.
    early = await engine.post(
        f"/api/agent/conversations/{conversation}/messages", json={"text": "hi"}, headers=headers
    )
    assert early.status == 403
    accepted = await engine.post("/api/agent/accept", json={"conversation": conversation}, headers=headers)
    assert accepted.status == 200

    # The customer writes while the agent owns the conversation: the bot stays silent.
    assert await say(engine, sender, "我的订单号是 12345") == []
    transcript = await (await engine.get(f"/api/agent/conversations/{conversation}")).json()
    roles_texts = [(line["role"], line["text"]) for line in transcript["lines"]]
    assert roles_texts[0] == ("customer", "退款多久到账")
    assert ("bot", roles_texts[1][1]) == roles_texts[1]  # the bot's earlier answer is there for the agent
    assert ("customer", "我的订单号是 12345") in roles_texts
    assert transcript["owner"] == "AGENT"

    # Markup in an agent's reply is delivered as the text it is.
    reply = "您好，我是客服 Ann <b>马上帮您查</b>"
    sent = await engine.post(
        f"/api/agent/conversations/{conversation}/messages", json={"text": reply}, headers=headers
    )
    assert sent.status == 200
    outbox = await read_outbox(engine, sender)
    assert [(m["role"], m["text"], m["author"]) for m in outbox] == [("agent", reply, "ann")]
    after = str(outbox[-1]["id"])
    assert await read_outbox(engine, sender, after) == []
    # Someone who only knows (or guesses) the sender id hears nothing.
    for snooping in ({}, {"X-Outbox-Token": "0" * 64}):
        snooped = await engine.get(f"/webhooks/rest/outbox?sender={sender}", headers=snooping)
        assert snooped.status == 403

    closed = await engine.post(f"/api/agent/conversations/{conversation}/close", headers=headers)
    assert closed.status == 200
    me = await (await engine.get("/api/agent/me")).json()
    assert me["load"] == 0
    # The customer is asked to rate the conversation with the five levels as buttons.
    prompt = await read_outbox(engine, sender, after)
    assert "打分" in prompt[-1]["text"]
    assert [b["title"] for b in prompt[-1]["buttons"]] == ["非常满意", "满意", "一般", "不满意", "非常不满意"]
    assert "感谢您的评价" in texts(await say(engine, sender, "满意"))
    summary = await engine.app[CSAT].summary("agent", "ann")
    assert summary["count"] >= 1
    assert summary["4"] >= 1
    # Back to the bot.
    assert "工作日" in texts(await say(engine, sender, "退款多久到账"))


async def test_agents_only_see_their_own_teams_conversations(support_engine: TestClient) -> None:
    engine = support_engine
    sender = "cust-" + uuid.uuid4().hex[:8]
    conversation = f"rest:{sender}"
    await say(engine, sender, "转人工")
    headers = await login(engine, "carl")  # billing
    assert (await engine.get(f"/api/agent/conversations/{conversation}")).status == 403
    queue_view = await (await engine.get("/api/agent/queue")).json()
    assert conversation not in [row["conversation"] for row in queue_view["waiting"]]
    not_offered = await engine.post("/api/agent/accept", json={"conversation": conversation}, headers=headers)
    assert not_offered.status == 409
    engine.session.cookie_jar.clear()
    assert (await engine.get("/api/agent/me")).status == 401


async def test_the_consoles_heartbeats_reach_the_presence_time(support_engine: TestClient) -> None:
    """Going online starts a stretch; each heartbeat moves its "last seen" (how a dead console is told)."""
    engine = support_engine
    headers = await login(engine, "carl")
    key = engine.app[SERVICES].events.keys.presence("carl")
    assert (await engine.post("/api/agent/status", json={"status": "online"}, headers=headers)).status == 200
    status, since, seen, team = (await engine.app[QUEUE].redis.get(key)).split("|")
    assert (status, since == seen, team) == ("online", True, "billing")
    await asyncio.sleep(0.01)
    assert (await engine.post("/api/agent/heartbeat", headers=headers)).status == 200
    _, since_after, seen_after, _ = (await engine.app[QUEUE].redis.get(key)).split("|")
    assert since_after == since
    assert float(seen_after) > float(seen)
    await engine.post("/api/agent/status", json={"status": "offline"}, headers=headers)
