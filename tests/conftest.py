"""Shared fixtures: a real Redis per run, a really trained model, running engine instances."""

from __future__ import annotations

import asyncio
import faulthandler
import os
import socket
import sys
import threading
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import pytest_asyncio
import redis.asyncio as aioredis
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.app import create_app
from bot.appkeys import DIALOGUE
from bot.logging_setup import quiet_rasa_structlog
from bot.settings import PROJECT_ROOT, Settings
from core.redis import EmbeddedRedis, async_client, close_async
from tests.topologies import TOPOLOGIES, Deployments, Instances

MODEL_LOAD_TIMEOUT = 180

# Importing Rasa (through bot.app) installed uvloop's policy; run on the standard loop, as bot.cli does.
asyncio.set_event_loop_policy(None)
quiet_rasa_structlog()


@pytest.fixture(autouse=True, scope="session")
def _no_internet() -> Iterator[None]:
    """Fail loudly if any test tries to reach a host that is not this machine."""
    real_getaddrinfo = socket.getaddrinfo

    def guarded(host: object, *args: object, **kwargs: object) -> object:
        if host not in (None, "localhost", "127.0.0.1", "::1", b"localhost", b"127.0.0.1"):
            raise OSError(f"tests must not reach the internet (tried {host!r})")
        return real_getaddrinfo(host, *args, **kwargs)  # type: ignore[arg-type]

    socket.getaddrinfo = guarded  # type: ignore[assignment]
    yield
    socket.getaddrinfo = real_getaddrinfo


# A test still running after this long is stuck: print every task's and thread's stack, so the hang
# can be read from the CI log (pytest-timeout fails the test later, and the report shows this output).
STUCK_TEST_SECONDS = float(os.environ.get("STUCK_TEST_SECONDS", "300"))


def _dump_tasks(loop: asyncio.AbstractEventLoop) -> None:
    print(f"\n=== asyncio tasks after {STUCK_TEST_SECONDS:.0f} s ===", file=sys.stderr)
    for task in asyncio.all_tasks(loop):
        print(f"--- {task!r}", file=sys.stderr)
        task.print_stack(limit=12, file=sys.stderr)
    sys.stderr.flush()


@pytest_asyncio.fixture(scope="session")
async def _session_loop() -> asyncio.AbstractEventLoop:
    """The loop every async test and fixture of the session runs on."""
    return asyncio.get_running_loop()


@pytest.fixture(autouse=True)
def _stuck_test_report(_session_loop: asyncio.AbstractEventLoop) -> Iterator[None]:
    """Dump stacks when a test runs far longer than any should (diagnostics only; never passes or fails)."""
    loop = _session_loop

    def report() -> None:
        faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
        if loop.is_running():
            loop.call_soon_threadsafe(_dump_tasks, loop)

    timer = threading.Timer(STUCK_TEST_SECONDS, report)
    timer.daemon = True
    timer.start()
    yield
    timer.cancel()


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """REDIS_URL when set, otherwise an embedded real Redis for this run."""
    url = os.environ.get("REDIS_URL")
    if url:
        yield url
        return
    with EmbeddedRedis(tmp_path_factory.mktemp("redis")) as embedded_url:
        yield embedded_url


@pytest.fixture(scope="session")
def key_prefix() -> str:
    """A key prefix of this run's own, so runs sharing one Redis never see each other's keys."""
    return "t" + uuid.uuid4().hex[:12]


@pytest_asyncio.fixture(scope="session")
async def redis_client(redis_url: str, key_prefix: str) -> AsyncIterator[aioredis.Redis]:
    """A client on the test Redis; deletes this run's keys at the end."""
    client = async_client(redis_url)
    yield client
    # Tests that need a store of their own derive prefixes from this one (key_prefix + "kb"), so
    # everything starting with the run's random prefix is this run's.
    async for key in client.scan_iter(match=f"{key_prefix}*", count=500):
        await client.delete(key)
    await close_async(client)


@pytest.fixture(scope="session")
def trained_model() -> Path:
    """Train the real model once per session; reuse it while its inputs are unchanged."""
    from bot.dialogue.training import ensure_model

    return ensure_model(PROJECT_ROOT / "var" / "models")


@pytest.fixture(scope="session")
def base_settings(redis_url: str, key_prefix: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings pointing at the test Redis, the test prefix and the shared model directory."""
    return Settings(
        redis_url=redis_url,
        redis_prefix=key_prefix,
        var_dir=tmp_path_factory.mktemp("var"),
        model_dir=PROJECT_ROOT / "var" / "models",
        instance_id="test",
    )


EngineFactory = Callable[..., Awaitable[TestClient]]


@pytest_asyncio.fixture(scope="session")
async def start_engine(
    base_settings: Settings,
) -> AsyncIterator[EngineFactory]:
    """Start engine instances on real ports; each returns once its model has loaded (or failed to)."""
    clients: list[TestClient] = []

    async def start(**overrides: object) -> TestClient:
        settings = replace(base_settings, **overrides)  # type: ignore[arg-type]
        app: web.Application = create_app(settings)
        client = TestClient(TestServer(app))
        await client.start_server()
        clients.append(client)
        await asyncio.wait_for(app[DIALOGUE].loaded.wait(), MODEL_LOAD_TIMEOUT)
        return client

    yield start
    for client in reversed(clients):
        await client.close()


@pytest_asyncio.fixture(scope="session")
async def engine(trained_model: Path, start_engine: EngineFactory) -> TestClient:
    """Engine instance A."""
    client = await start_engine(instance_id="engine-a")
    assert client.app[DIALOGUE].dialogue is not None, client.app[DIALOGUE].error
    return client


@pytest_asyncio.fixture(scope="session")
async def deployments(
    redis_url: str, key_prefix: str, start_engine: EngineFactory, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Deployments]:
    """The run's Redis deployments (one server, Sentinel, Cluster), each started on first use."""
    started = Deployments(tmp_path_factory.mktemp("deployments"), redis_url, key_prefix, start_engine)
    yield started
    await started.stop()


@pytest.fixture(scope="module", params=TOPOLOGIES)
def topology(request: pytest.FixtureRequest) -> str:
    """The deployment a two-instance test runs on; a test asking for it runs on each of the three."""
    return str(request.param)


@pytest_asyncio.fixture
async def shared_url(deployments: Deployments, topology: str) -> str:
    """The REDIS_URL of ``topology``, for a second client or an engine process of the test's own."""
    return await deployments.url(topology)


@pytest_asyncio.fixture
async def shared_redis(deployments: Deployments, topology: str) -> aioredis.Redis:
    """A client on ``topology``'s Redis, the one that two instances in the test share."""
    return await deployments.redis(topology)


@pytest_asyncio.fixture
async def instances(trained_model: Path, deployments: Deployments, topology: str) -> Instances:
    """Engine instances A and B on ``topology``, staffed with Ann and Bob (agents) and editor1."""
    return await deployments.instances(topology)


@pytest.fixture
def sender() -> str:
    """A fresh customer id, so every test has its own conversation."""
    return "cust-" + uuid.uuid4().hex[:10]


# The outbox token each sender's last webhook answer carried, as a REST client keeps it.
OUTBOX_TOKENS: dict[str, str] = {}


async def say(client: TestClient, sender: str, text: str) -> list[dict[str, object]]:
    """Send one message through the REST channel and return the bot's replies."""
    response = await client.post("/webhooks/rest/webhook", json={"sender": sender, "message": text})
    assert response.status == 200, await response.text()
    OUTBOX_TOKENS[sender] = response.headers["X-Outbox-Token"]
    body = await response.json()
    assert isinstance(body, list)
    return body


async def read_outbox(client: TestClient, sender: str, after: str = "0") -> list[dict[str, object]]:
    """Return the sender's outbox after ``after``, shown the token its webhook answers carried."""
    response = await client.get(
        "/webhooks/rest/outbox",
        params={"sender": sender, "after": after},
        headers={"X-Outbox-Token": OUTBOX_TOKENS[sender]},
    )
    assert response.status == 200, await response.text()
    messages: list[dict[str, object]] = (await response.json())["messages"]
    return messages


def texts(replies: list[dict[str, object]]) -> str:
    """Join the text of every reply."""
    return "\n".join(str(r.get("text", "")) for r in replies)
