"""How much Redis work one customer message costs: commands executed per message, by command.

    .venv/bin/python -m bench.redis_ops [--messages 400]

Starts an embedded Redis of its own (so nothing else counts) and one engine in-process on the trained
model, then sends the load_rest zh/en mix over REST, one customer at a time, each customer starting a new
conversation every 10 messages (handoff phrases left out: every message is a bot turn or a held one).
Redis's own ``INFO commandstats`` and ``INFO cpu`` are read before and after; the background work of an
idle engine (the sweep, renewals) is measured for as long beforehand and subtracted. Commands run inside
Lua scripts are counted by Redis too, so the figure is the server's work per message, not the client's
round trips.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer

from bench.load_rest import pick
from bench.metrics_overhead import HANDOFF
from bot.app import create_app
from bot.appkeys import DIALOGUE
from bot.logging_setup import quiet_rasa_structlog
from bot.settings import PROJECT_ROOT, Settings
from core.redis import AsyncRedis, EmbeddedRedis, async_client, close_async

TURNS_PER_CONVERSATION = 10


async def commands(client: AsyncRedis) -> Counter[str]:
    """Return Redis's calls per command so far, and (as ``cpu_us``) the server's CPU time."""
    stats = await client.info("commandstats")
    found = Counter({name.removeprefix("cmdstat_"): int(v["calls"]) for name, v in stats.items()})
    cpu = await client.info("cpu")
    found["cpu_us"] = int((float(cpu["used_cpu_user"]) + float(cpu["used_cpu_sys"])) * 1_000_000)
    return found


async def measure(url: str, var_dir: Path, messages: int) -> None:
    """Run the engine, count the idle background, then the messages; print per-message figures."""
    settings = Settings(
        redis_url=url,
        redis_prefix="ops" + uuid.uuid4().hex[:6],
        var_dir=var_dir,
        model_dir=PROJECT_ROOT / "var" / "models",
        instance_id="ops",
    )
    app = create_app(settings)
    client = TestClient(TestServer(app))
    await client.start_server()
    counter = async_client(url)
    try:
        await asyncio.wait_for(app[DIALOGUE].loaded.wait(), 300)
        rng = random.Random(5)

        async def send(count: int) -> int:
            bot_turns = 0
            sender = ""
            for i in range(count):
                if i % TURNS_PER_CONVERSATION == 0:
                    sender = f"ops-{uuid.uuid4().hex[:10]}"
                while (text := pick(rng)) in HANDOFF:
                    pass
                response = await client.post(
                    "/webhooks/rest/webhook", json={"sender": sender, "message": text}
                )
                assert response.status == 200, await response.text()
                bot_turns += bool(await response.json())
            return bot_turns

        await send(40)  # warm-up
        before, started = await commands(counter), time.monotonic()
        await asyncio.sleep(10)
        idle_rate = {
            k: v / (time.monotonic() - started) for k, v in ((await commands(counter)) - before).items()
        }
        before, started = await commands(counter), time.monotonic()
        turns = await send(messages)
        elapsed = time.monotonic() - started
        spent = (await commands(counter)) - before
        spent.subtract({"info": 4})  # our own reads
        per_message = {k: (v - idle_rate.get(k, 0.0) * elapsed) / messages for k, v in spent.items()}
        cpu_us = per_message.pop("cpu_us")
        idle_rate.pop("cpu_us")
        total = sum(per_message.values())
        print(f"{messages} messages ({turns} answered by the bot) in {elapsed:.1f} s")
        print(
            f"Redis commands per message: {total:.1f} (idle background subtracted: "
            f"{sum(idle_rate.values()):.1f} commands/s)"
        )
        print(
            f"Redis CPU per message: {cpu_us:.0f} µs: one Redis core serves about {1e6 / cpu_us:,.0f} msgs/s"
            " of this mix (its main thread runs every command)"
        )
        top = sorted(per_message.items(), key=lambda kv: -kv[1])[:15]
        print("  " + ", ".join(f"{name} {n:.2f}" for name, n in top if n >= 0.05))
    finally:
        await close_async(counter)
        await client.close()


def main() -> None:
    """Measure on an embedded Redis of the bench's own."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=400)
    args = parser.parse_args()
    quiet_rasa_structlog()
    with tempfile.TemporaryDirectory() as tmp, EmbeddedRedis(Path(tmp)) as url:
        asyncio.run(measure(url, Path(tmp), args.messages))


if __name__ == "__main__":
    main()
