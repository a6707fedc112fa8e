"""The web chat socket protocol over a real WebSocket (the browser test drives the widget itself)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import aiohttp
from aiohttp.test_utils import TestClient

from handoff.web.appkeys import DELIVER, TRANSCRIPTS

SOCKET = "/webchat/ws"


def origin(engine: TestClient) -> dict[str, str]:
    """The engine's own origin, as a browser on its pages sends it."""
    return {"Origin": str(engine.make_url("")).rstrip("/")}


async def frames_until(ws: aiohttp.ClientWebSocketResponse, kind: str, **match: Any) -> list[dict[str, Any]]:
    """Read frames until one of ``kind`` (matching ``match``) arrives; return all of them."""
    seen: list[dict[str, Any]] = []

    async def read() -> list[dict[str, Any]]:
        while True:
            frame = await ws.receive_json()
            seen.append(frame)
            if frame.get("type") == kind and all(frame.get(k) == v for k, v in match.items()):
                return seen

    return await asyncio.wait_for(read(), 20)


async def open_session(
    engine: TestClient, **hello: Any
) -> tuple[aiohttp.ClientWebSocketResponse, dict[str, Any]]:
    ws = await engine.ws_connect(SOCKET, headers=origin(engine))
    await ws.send_json({"type": "hello", "language": "zh", **hello})
    session = (await frames_until(ws, "session"))[-1]
    await frames_until(ws, "ready")
    return ws, session


async def test_chat_resume_and_a_resent_message_counted_once(channels_engine: TestClient) -> None:
    ws, session = await open_session(channels_engine)
    visitor = session["visitor"]
    message_id = uuid.uuid4().hex
    await ws.send_json({"type": "message", "id": message_id, "text": "退款多久到账"})
    frames = await frames_until(ws, "message", role="bot")
    assert any(f.get("type") == "ack" and f["id"] == message_id for f in frames)
    mine = next(f for f in frames if f.get("type") == "message" and f["role"] == "customer")
    assert mine["client_id"] == message_id
    answer = frames[-1]
    assert "到账" in answer["text"]
    await ws.close()

    # The widget reconnects, resumes after the last id it showed, and resends a message whose ack it
    # never saw: acknowledged again, but neither handled nor shown twice.
    ws, again = await open_session(
        channels_engine, visitor=visitor, token=session["token"], last=answer["id"]
    )
    assert again["visitor"] == visitor
    await ws.send_json({"type": "message", "id": message_id, "text": "退款多久到账"})
    await frames_until(ws, "ack", id=message_id)
    await ws.send_json({"type": "message", "id": uuid.uuid4().hex, "text": "谢谢"})
    frames = await frames_until(ws, "message", role="bot")
    assert "不客气" in frames[-1]["text"]
    assert [f["text"] for f in frames if f.get("type") == "message" and f["role"] == "customer"] == ["谢谢"]
    await ws.close()
    lines = await channels_engine.app[TRANSCRIPTS].read(f"webchat:{visitor}")
    assert [x.text for x in lines if x.role == "customer"] == ["退款多久到账", "谢谢"]


async def test_history_on_a_new_page_and_agent_messages_carry_the_agent(channels_engine: TestClient) -> None:
    ws, session = await open_session(channels_engine)
    visitor = session["visitor"]
    await ws.send_json({"type": "message", "id": "m1", "text": "你好"})
    await frames_until(ws, "message", role="bot")
    await channels_engine.app[DELIVER](f"webchat:{visitor}", "您好，我是小王", "wang")
    pushed = (await frames_until(ws, "message", role="agent"))[-1]
    assert pushed["author"] == "wang"
    await ws.close()
    # A reload: no last id, so the recent history comes back, in order.
    ws, _ = await open_session(channels_engine, visitor=visitor, token=session["token"])
    await ws.close()
    ws = await channels_engine.ws_connect(SOCKET, headers=origin(channels_engine))
    await ws.send_json({"type": "hello", "visitor": visitor, "token": session["token"]})
    history = [f for f in await frames_until(ws, "ready") if f.get("type") == "message"]
    assert [f["role"] for f in history] == ["customer", "bot", "agent"]
    assert history[0]["text"] == "你好"
    await ws.close()


async def test_someone_elses_visitor_id_without_its_token_gets_a_new_visitor(
    channels_engine: TestClient,
) -> None:
    ws, session = await open_session(channels_engine)
    await ws.close()
    ws, other = await open_session(channels_engine, visitor=session["visitor"], token="0" * 64)
    assert other["visitor"] != session["visitor"]
    await ws.close()


async def test_bad_frames_get_errors_and_the_socket_keeps_working(channels_engine: TestClient) -> None:
    ws, _ = await open_session(channels_engine)
    await ws.send_str("{not json")
    assert (await frames_until(ws, "error"))[-1]["error"] == "frames must be JSON"
    await ws.send_json({"type": "message", "text": "no id"})
    await frames_until(ws, "error")
    await ws.send_json({"type": "message", "id": "big", "text": "长" * 4001})
    assert "4000" in (await frames_until(ws, "error", id="big"))[-1]["error"]
    await ws.send_json({"type": "message", "id": "ok", "text": "你好"})
    await frames_until(ws, "message", role="bot")
    await ws.close()
    # A frame over the size limit closes that socket (the widget reconnects); the engine is fine.
    ws, _ = await open_session(channels_engine)
    await ws.send_str("x" * (64 * 1024))
    closed = await ws.receive()
    assert closed.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR)
    await ws.close()


async def test_pages_from_other_sites_are_refused(channels_engine: TestClient) -> None:
    response = await channels_engine.get(
        SOCKET,
        headers={
            "Origin": "https://evil.example",
            "Connection": "Upgrade",
            "Upgrade": "websocket",
            "Sec-WebSocket-Version": "13",
            "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        },
    )
    assert response.status == 403
    script = await channels_engine.get("/webchat/widget.js")
    assert script.status == 200
    assert "attachShadow" in await script.text()
