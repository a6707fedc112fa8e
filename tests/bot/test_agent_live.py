"""The agent console's live feed: an agent on instance A hears of a customer whose messages land on B."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import aiohttp
from aiohttp.test_utils import TestClient

from tests.bot.test_agent_api import login, support_engine  # noqa: F401  (session fixture)
from tests.conftest import say
from tests.topologies import Instances


async def next_frame(ws: aiohttp.ClientWebSocketResponse, **match: Any) -> dict[str, Any]:
    """Return the next frame that has every item of ``match``."""

    async def read() -> dict[str, Any]:
        while True:
            frame: dict[str, Any] = await ws.receive_json()
            if all(frame.get(k) == v for k, v in match.items()):
                return frame

    return await asyncio.wait_for(read(), 10)


async def test_routing_events_and_customer_lines_reach_the_console_across_instances(
    instances: Instances,
) -> None:
    a, b = instances.a, instances.b
    # Only Ann is available, so the conversation is hers.
    bob = await login(a, "bob")
    await a.post("/api/agent/status", json={"status": "offline"}, headers=bob)
    headers = await login(a, "ann")
    origin = {"Origin": str(a.make_url("")).rstrip("/")}
    ws = await a.ws_connect("/agent/ws", headers=origin)
    try:
        await follow_a_handoff(a, b, ws, headers)
    finally:
        await ws.close()
        # The pair is shared by the run's other two-instance tests: nobody is left taking customers.
        await a.post("/api/agent/status", json={"status": "offline"}, headers=headers)


async def follow_a_handoff(
    a: TestClient, b: TestClient, ws: aiohttp.ClientWebSocketResponse, headers: dict[str, str]
) -> None:
    """Ann goes online on A; a customer on B asks for a human and writes; Ann's socket hears of both."""
    await a.post("/api/agent/status", json={"status": "online"}, headers=headers)

    sender = "live-" + uuid.uuid4().hex[:8]
    conversation = f"rest:{sender}"
    await say(b, sender, "转人工")  # on instance B
    offered = await next_frame(ws, type="event", conversation=conversation)
    assert offered["event"] == "offered"
    accepted = await a.post("/api/agent/accept", json={"conversation": conversation}, headers=headers)
    assert accepted.status == 200

    await say(b, sender, "我的订单号是 12345")
    await next_frame(ws, type="transcript", conversation=conversation)

    # A conversation that is not the agent's cannot be watched.
    await ws.send_json({"type": "watch", "conversation": "rest:someone-else"})
    assert (await next_frame(ws, type="error"))["error"] == "not your conversation"
    closed = await a.post(f"/api/agent/conversations/{conversation}/close", headers=headers)
    assert closed.status == 200


async def test_the_feed_needs_a_session_and_the_engines_own_page(support_engine: TestClient) -> None:  # noqa: F811
    support_engine.session.cookie_jar.clear()
    anonymous = await support_engine.get("/agent/ws")
    assert anonymous.status == 401
    await login(support_engine, "ann")
    foreign = await support_engine.get(
        "/agent/ws",
        headers={
            "Origin": "https://evil.example",
            "Connection": "Upgrade",
            "Upgrade": "websocket",
            "Sec-WebSocket-Version": "13",
            "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        },
    )
    assert foreign.status == 403
