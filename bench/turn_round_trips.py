"""How many Redis round trips the engine makes for one customer message before Rasa's turn begins.

    .venv/bin/python -m bench.turn_round_trips

Uses REDIS_URL when set, otherwise an embedded Redis; keys live under a random prefix and are deleted.
Runs one engine in-process on the trained model and counts, for a new customer's first message and a
returning customer's next one, every command or pipeline the engine's async Redis client sends between
the message's arrival and the moment Rasa's turn starts (Rasa's own lock and tracker reads come after
and use their own client). Each pipeline counts as one round trip.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer
from redis.asyncio.client import Pipeline

from bot.app import create_app
from bot.appkeys import DIALOGUE, REDIS, ROUTER
from bot.settings import PROJECT_ROOT, Settings
from core.redis import EmbeddedRedis, async_client, close_async


class Recorder:
    """Collect the engine client's round trips; ``marker`` closes one message's count."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.active = False
        # The sweep and other background tasks share the client; only the message's own task counts.
        self.task: asyncio.Task[Any] | None = None

    def note(self, what: str) -> None:
        """Record one round trip while a message is being counted, on that message's own task."""
        if self.active and asyncio.current_task() is self.task:
            self.calls.append(what)


def instrument(app: Any, recorder: Recorder) -> None:
    """Count each command and each pipeline of the app's async client; stop counting when Rasa starts."""
    client = app[REDIS]
    original: Callable[..., Awaitable[Any]] = client.execute_command

    async def counted(*args: Any, **kwargs: Any) -> Any:
        recorder.note(" ".join(str(a) for a in args[:2]))
        return await original(*args, **kwargs)

    client.execute_command = counted
    execute = Pipeline.execute

    async def counted_pipeline(self: Pipeline[str], *args: Any, **kwargs: Any) -> Any:
        if self.connection_pool is client.connection_pool:
            recorder.note(f"PIPELINE of {len(self.command_stack)}")
        return await execute(self, *args, **kwargs)

    Pipeline.execute = counted_pipeline  # type: ignore[method-assign,assignment]
    router = app[ROUTER]
    on_message = router.on_message

    async def tracked(*args: Any, **kwargs: Any) -> Any:
        recorder.task = asyncio.current_task()
        return await on_message(*args, **kwargs)

    router.on_message = tracked
    dialogue = app[DIALOGUE].dialogue
    handle = dialogue.handle

    async def marked(*args: Any, **kwargs: Any) -> Any:
        recorder.active = False
        return await handle(*args, **kwargs)

    dialogue.handle = marked


async def count(client: TestClient, recorder: Recorder, sender: str, text: str) -> list[str]:
    """Send one message over REST and return the round trips made before Rasa's turn."""
    recorder.calls = []
    recorder.active = True
    response = await client.post("/webhooks/rest/webhook", json={"sender": sender, "message": text})
    assert response.status == 200, await response.text()
    recorder.active = False
    return list(recorder.calls)


async def measure(url: str, var_dir: Path) -> None:
    """Run the engine, send the messages, print the counts."""
    prefix = "bench" + uuid.uuid4().hex[:8]
    settings = Settings(
        redis_url=url,
        redis_prefix=prefix,
        var_dir=var_dir,
        model_dir=PROJECT_ROOT / "var" / "models",
        instance_id="bench",
    )
    app = create_app(settings)
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        await asyncio.wait_for(app[DIALOGUE].loaded.wait(), 300)
        assert app[DIALOGUE].dialogue is not None, app[DIALOGUE].error
        recorder = Recorder()
        instrument(app, recorder)
        sender = "bench-" + uuid.uuid4().hex[:6]
        for label, text in (
            ("new customer, first message", "你好"),
            ("same customer, next message", "怎么退货"),
        ):
            calls = await count(client, recorder, sender, text)
            print(f"{label}: {len(calls)} round trips before Rasa's turn")
            for call in calls:
                print(f"    {call}")
    finally:
        await client.close()
        cleaner = async_client(url)
        async for key in cleaner.scan_iter(match=f"{prefix}*", count=500):
            await cleaner.delete(key)
        await close_async(cleaner)


def main() -> None:
    """Measure on REDIS_URL or an embedded Redis."""
    with tempfile.TemporaryDirectory() as tmp:
        url = os.environ.get("REDIS_URL")
        if url:
            asyncio.run(measure(url, Path(tmp)))
            return
        with EmbeddedRedis(Path(tmp)) as embedded:
            asyncio.run(measure(embedded, Path(tmp)))


if __name__ == "__main__":
    main()
