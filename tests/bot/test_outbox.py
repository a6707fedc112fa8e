"""The durable push outbox on a real Redis: a killed sender's pushes are sent by another, once, in order."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
import pytest_asyncio
import redis.asyncio as aioredis
from aiohttp import web

from bot.engine import delivery as delivery_module
from bot.engine.delivery import Outbox
from core.keys import Keys
from core.messages import Outbound
from core.redis import async_client, close_async
from tests.bot.pushing import KILLED_LEASE_MS, outbox_for
from tests.bot.test_app import own_redis
from tests.fakes.recorder import start


class Platform:
    """A local HTTP endpoint standing in for a platform's send API; it can hang on one text."""

    def __init__(self) -> None:
        self.received: list[str] = []
        self.hang_on: str | None = None
        self.arrived = asyncio.Event()
        self.slow: float = 0.0
        self.url = ""
        # Run (once) while a message is being taken, before the answer goes back.
        self.during: Callable[[], Awaitable[None]] | None = None

    async def handle(self, request: web.Request) -> web.Response:
        text = str((await request.json())["text"])
        self.received.append(text)
        self.arrived.set()
        if text == self.hang_on:
            await asyncio.Event().wait()  # taken, never answered: the sender cannot know
        await asyncio.sleep(self.slow)
        if self.during is not None:
            during, self.during = self.during, None
            await during()
        return web.json_response({"ok": True})


@pytest_asyncio.fixture
async def platform() -> AsyncIterator[Platform]:
    fake = Platform()
    app = web.Application()
    app.router.add_post("/send", fake.handle)
    server, url = await start(app)
    fake.url = url + "/send"
    yield fake
    await server.close()


@pytest.fixture
def prefix(key_prefix: str) -> str:
    return key_prefix + "push" + uuid.uuid4().hex[:6]


async def until_settled(
    outbox: Outbox, conversation: str, count: int, timeout: float = 20
) -> list[dict[str, object]]:
    """Sweep as an instance's sweeper does until ``count`` records are delivered or failed."""

    async def settled() -> list[dict[str, object]]:
        while True:
            await outbox.recover()
            records = await outbox.deliveries(conversation)
            if sum(r["status"] in delivery_module.SETTLED for r in records) >= count:
                return records
            await asyncio.sleep(0.1)

    return await asyncio.wait_for(settled(), timeout)


async def test_pushes_of_a_killed_instance_are_sent_by_another_once_and_in_order(
    platform: Platform,
    shared_redis: aioredis.Redis,
    shared_url: str,
    prefix: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    platform.hang_on = "m0"
    conversation = f"telegram:{uuid.uuid4().int % 10**9}"
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.bot.pushing",
        shared_url,
        prefix,
        conversation,
        platform.url,
        "m0",
        "m1",
        "m2",
        env={**os.environ, "PYTHONPATH": os.getcwd()},
    )
    try:
        # The doomed instance has queued all three and is in the middle of sending the first.
        await asyncio.wait_for(platform.arrived.wait(), 60)
        os.kill(process.pid, signal.SIGKILL)
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()
    platform.hang_on = None
    assert platform.received == ["m0"]

    monkeypatch.setattr(delivery_module, "RECOVER_AFTER_SECONDS", 0.0)
    survivor = outbox_for(platform.url, shared_redis, prefix)
    records = await until_settled(survivor, conversation, 3, timeout=10 + KILLED_LEASE_MS / 1000)
    await survivor.close()

    # The one in flight is sent again (the platform may or may not have it) and says so; the rest once.
    assert platform.received == ["m0", "m0", "m1", "m2"]
    assert [(r["text"], r["status"], r["attempts"]) for r in records] == [
        ("m0", "delivered", 2),
        ("m1", "delivered", 1),
        ("m2", "delivered", 1),
    ]
    assert [bool(r.get("maybe_duplicated")) for r in records] == [True, False, False]
    assert await shared_redis.xlen(Keys(prefix).push_queue(conversation)) == 0


async def test_a_push_recorded_as_delivered_is_never_sent_again(
    platform: Platform,
    redis_client: aioredis.Redis,
    prefix: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class Crashed(Outbox):
        """An instance that queued pushes and died before its worker took them off the stream."""

        def kick(self, conversation: str) -> None:
            return None

    conversation = f"telegram:{uuid.uuid4().int % 10**9}"
    dead = outbox_for(platform.url, redis_client, prefix)
    dead.__class__ = Crashed
    first = await dead.send(conversation, Outbound("", "sent before the crash"))
    await dead.send(conversation, Outbound("", "still to send"))
    # It had sent the first and written so, but died before removing it from the stream.
    key = Keys(prefix).deliveries(conversation)
    record = (await redis_client.hget(key, first) or "").replace('"pending"', '"delivered"')
    await redis_client.hset(key, first, record)

    monkeypatch.setattr(delivery_module, "RECOVER_AFTER_SECONDS", 0.0)
    survivor = outbox_for(platform.url, redis_client, prefix)
    records = await until_settled(survivor, conversation, 2)
    await survivor.close()
    assert platform.received == ["still to send"]
    assert [r["status"] for r in records] == ["delivered", "delivered"]


async def test_two_instances_pushing_to_one_conversation_keep_its_order(
    platform: Platform, shared_redis: aioredis.Redis, prefix: str
) -> None:
    platform.slow = 0.2
    conversation = f"telegram:{uuid.uuid4().int % 10**9}"
    one, two = outbox_for(platform.url, shared_redis, prefix), outbox_for(platform.url, shared_redis, prefix)
    await one.send(conversation, Outbound("", "a1"))
    await asyncio.wait_for(platform.arrived.wait(), 10)
    # Queued on the other instance while the first is still sending: it waits its turn there.
    await two.send(conversation, Outbound("", "b1"))
    await one.send(conversation, Outbound("", "a2"))
    await asyncio.wait_for(asyncio.gather(one.idle(), two.idle()), 10)
    await until_settled(two, conversation, 3)
    await one.close()
    await two.close()
    assert platform.received == ["a1", "b1", "a2"]


async def test_a_send_whose_outcome_cannot_be_written_at_once_is_recorded_when_redis_is_back(
    platform: Platform, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    socket = tmp_path / "redis.sock"
    aof = ("--dir", str(tmp_path), "--appendonly", "yes", "--appendfsync", "always")
    server = await own_redis(socket, *aof)
    client = async_client(f"unix://{socket}")
    conversation = f"telegram:{uuid.uuid4().int % 10**9}"
    outbox = outbox_for(platform.url, client, "restart")
    monkeypatch.setattr(delivery_module, "RECOVER_AFTER_SECONDS", 0.0)
    restarted: list[asyncio.subprocess.Process] = []

    async def start_again() -> None:
        await asyncio.sleep(2)
        restarted.append(await own_redis(socket, *aof))

    async def stop_redis() -> None:
        # Redis goes away while the platform takes the message, and is back two seconds later.
        server.terminate()
        await server.communicate()
        background.append(asyncio.create_task(start_again()))

    background: list[asyncio.Task[None]] = []
    platform.during = stop_redis
    try:
        await outbox.send(conversation, Outbound("", "sent while Redis restarts"))
        await asyncio.wait_for(outbox.idle(), 30)
        records = await until_settled(outbox, conversation, 1)
        await outbox.close()
    finally:
        await asyncio.gather(*background)
        await close_async(client)
        for process in [server, *restarted]:
            if process.returncode is None:
                process.kill()
                await process.communicate()
    assert platform.received == ["sent while Redis restarts"]
    assert [(r["status"], r["attempts"], bool(r.get("maybe_duplicated"))) for r in records] == [
        ("delivered", 1, False)
    ]
