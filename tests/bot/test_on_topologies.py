"""Two engine instances on Sentinel and on Redis Cluster: dialogue, handoff, KB publish and console delivery.

The same flows the standalone tests cover, with REDIS_URL naming three sentinels and the master (1 master,
1 replica, 3 sentinels), or the seed nodes of a 3-master / 3-replica cluster (created with
``redis-cli --cluster create``), all real servers started from Debian's redis-server. Every kind of engine
state (conversation state, Rasa's tracker and ticket lock, intake and outbox streams, queue and presence,
the KB and its publish signal, sessions, the console's pub/sub feed) goes through that client; on the
cluster, a script or transaction over keys of two slots fails (CROSSSLOT), so these flows check the hash
tags too.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient

from bot.appkeys import ACCOUNTS
from core.keys import Keys
from core.redis import async_client, close_async
from core.state import ConversationStates, Owner
from handoff.web.appkeys import QUEUE
from tests.bot.test_agent_api import PASSWORD, login
from tests.bot.test_agent_live import follow_a_handoff
from tests.bot.test_kb_api import gift_entry
from tests.cluster import ClusterGroup
from tests.conftest import EngineFactory, say, texts
from tests.sentinel import SentinelGroup

Pair = tuple[TestClient, TestClient, str, str]


@pytest_asyncio.fixture(scope="module", params=["sentinel", "cluster"])
async def pair(
    request: pytest.FixtureRequest,
    trained_model: object,
    start_engine: EngineFactory,
    key_prefix: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Pair]:
    """Instances A and B on one deployment (a key prefix of their own), staffed with Ann and Bob."""
    topology = str(request.param)
    group: SentinelGroup | ClusterGroup
    if topology == "sentinel":
        group = SentinelGroup(tmp_path_factory.mktemp("on-sentinel"))
    else:
        group = ClusterGroup(tmp_path_factory.mktemp("on-cluster"))
    await group.start()
    prefix = key_prefix + topology[:2]
    engines: list[TestClient] = []
    try:
        for name in ("a", "b"):
            name = f"{topology[:2]}-{name}"
            engines.append(
                await start_engine(
                    instance_id=name, redis_url=group.url, redis_prefix=prefix, cookie_secure=False
                )
            )
        a = engines[0]
        for name in ("ann", "bob"):
            await a.app[ACCOUNTS].set_user(name, PASSWORD, ["agent"])
            await a.app[QUEUE].upsert_agent(name, name.title(), ["support"], capacity=2)
        await a.app[ACCOUNTS].set_user("editor1", PASSWORD, ["editor"])
        yield engines[0], engines[1], group.url, prefix
    finally:
        for engine in engines:
            await engine.close()  # before the group stops: an engine whose Redis is gone retries on
        await group.stop()


async def test_a_conversation_alternating_instances_keeps_its_state(pair: Pair) -> None:
    a, b, url, prefix = pair
    sender = "sn-" + uuid.uuid4().hex[:8]
    await say(a, sender, "hello")
    assert "talk to a human" in texts(await say(b, sender, "can you paint my house purple")).lower()
    assert "connecting you to a human" in texts(await say(a, sender, "yes"))
    assert await say(b, sender, "are you there?") == []
    client = async_client(url)
    try:
        states = ConversationStates(client, Keys(prefix))
        assert await states.get(f"rest:{sender}") is Owner.QUEUED
    finally:
        await close_async(client)


async def test_a_publish_on_one_instance_is_answered_on_the_other(pair: Pair) -> None:
    a, b, _, _ = pair
    word = uuid.uuid4().hex[:6]
    editor = await login(a, "editor1")
    assert (await a.post("/api/kb/entries", json=gift_entry(word), headers=editor)).status == 200
    published = await a.post("/api/kb/publish", json={"message": "gift cards"}, headers=editor)
    assert published.status == 200, await published.text()
    started = time.perf_counter()
    while word not in texts(await say(b, "sn-kb-" + uuid.uuid4().hex[:6], "礼品卡怎么买")):
        assert time.perf_counter() - started < 5.0, "instance B did not answer from the new version"
        await asyncio.sleep(0.05)


async def test_the_console_on_one_instance_hears_a_customer_on_the_other(pair: Pair) -> None:
    a, b, _, _ = pair
    bob = await login(a, "bob")
    await a.post("/api/agent/status", json={"status": "offline"}, headers=bob)
    ann = await login(a, "ann")
    ws = await a.ws_connect("/agent/ws", headers={"Origin": str(a.make_url("")).rstrip("/")})
    try:
        await follow_a_handoff(a, b, ws, ann)
    finally:
        await ws.close()
