"""An engine process killed (SIGKILL) in the middle of a handoff: another instance finishes it."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest_asyncio
import redis.asyncio as aioredis

from bot.settings import PROJECT_ROOT
from core.keys import Keys
from core.state import ConversationStates, Owner
from handoff.web.appkeys import QUEUE, TRANSCRIPTS
from tests.bot.test_agent_api import login, mine_once_offered, staffed_support
from tests.channels.test_webchat import frames_until
from tests.conftest import EngineFactory
from tests.processes import free_port, serving

START_SECONDS = 180


class Doomed:
    """``python -m bot serve`` in a process of its own, to be killed without warning."""

    def __init__(self, process: asyncio.subprocess.Process, url: str) -> None:
        self.process = process
        self.url = url

    def kill(self) -> None:
        os.kill(self.process.pid, signal.SIGKILL)


@pytest_asyncio.fixture
async def doomed(
    trained_model: object, shared_url: str, key_prefix: str, tmp_path: Path
) -> AsyncIterator[tuple[Doomed, str]]:
    """Engine B as a real process on each deployment in turn, with a key prefix of this test's own."""
    prefix = key_prefix + "kill" + uuid.uuid4().hex[:4]
    port = free_port()
    env = {
        **os.environ,
        "REDIS_URL": shared_url,
        "REDIS_PREFIX": prefix,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "INSTANCE_ID": "doomed",
        "VAR_DIR": str(tmp_path),
        "MODEL_DIR": str(PROJECT_ROOT / "var" / "models"),
        "LOG_LEVEL": "WARNING",
        "WORKERS": "1",  # the instance killed is one process
    }
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "bot", "serve", "--no-train"]
    async with serving(command, env, url + "/healthz", tmp_path / "doomed.log", START_SECONDS) as process:
        yield Doomed(process, url), prefix


async def test_an_engine_killed_mid_handoff_loses_nothing(
    doomed: tuple[Doomed, str], start_engine: EngineFactory, shared_redis: aioredis.Redis, shared_url: str
) -> None:
    engine_b, prefix = doomed
    engine_a = await staffed_support(start_engine, prefix, redis_url=shared_url)
    states = ConversationStates(shared_redis, Keys(prefix))
    queue = engine_a.app[QUEUE]

    async with aiohttp.ClientSession() as http:
        ws = await http.ws_connect(engine_b.url + "/webchat/ws", headers={"Origin": engine_b.url})
        await ws.send_json({"type": "hello", "language": "zh"})
        session = (await frames_until(ws, "session"))[-1]
        await frames_until(ws, "ready")
        conversation = f"webchat:{session['visitor']}"
        await ws.send_json({"type": "message", "id": "h1", "text": "转人工"})
        await frames_until(ws, "ack", id="h1")
        # Kill B the moment the conversation leaves the bot: mid-handoff, its ticket, offer and
        # replies still to come (or, if B is quicker than this loop, some of them).
        deadline = time.monotonic() + 60
        while await states.get(conversation) is not Owner.QUEUED:
            assert time.monotonic() < deadline, "B never started the handoff"
        engine_b.kill()
        await engine_b.process.wait()
        had_ticket = await queue.ticket(conversation) is not None
        await ws.close()

        # Instance A finishes it: the conversation gets its ticket and reaches an agent.
        ann = await login(engine_a, "ann")
        online = await engine_a.post("/api/agent/status", json={"status": "online"}, headers=ann)
        assert online.status == 200
        assert conversation in await mine_once_offered(engine_a, conversation, timeout=90), (
            f"never offered (ticket when B died: {had_ticket})"
        )
        accepted = await engine_a.post("/api/agent/accept", json={"conversation": conversation}, headers=ann)
        assert accepted.status == 200
        sent = await engine_a.post(
            f"/api/agent/conversations/{conversation}/messages", json={"text": "您好，我是 Ann"}, headers=ann
        )
        assert sent.status == 200

        # The customer's widget reconnects, to A now, and sees the agent's reply.
        a_url = str(engine_a.make_url("")).rstrip("/")
        ws = await http.ws_connect(a_url + "/webchat/ws", headers={"Origin": a_url})
        await ws.send_json(
            {"type": "hello", "language": "zh", "visitor": session["visitor"], "token": session["token"]}
        )
        frames = await frames_until(ws, "message", role="agent")
        assert frames[-1]["text"] == "您好，我是 Ann"
        await ws.close()

    lines = await engine_a.app[TRANSCRIPTS].read(conversation)
    assert [x.text for x in lines if x.role == "customer"] == ["转人工"]
    assert await states.get(conversation) is Owner.AGENT
    await engine_a.post("/api/agent/status", json={"status": "offline"}, headers=ann)
