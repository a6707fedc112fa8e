"""Handoff queue benchmark on a real Redis: enqueue, route+assign, enqueue→agent-notified latency.

    .venv/bin/python -m bench.handoff_queue [--waiting 10000] [--agents 200] [--capacity 5] [--rate 500]

Uses REDIS_URL when set, otherwise an embedded Redis; keys live under a random prefix and are deleted.
Prints redis-benchmark figures from the same machine and run first, for scale.
1. enqueue: ``--waiting`` conversations join the queue with no agent online (latency per call).
2. route+assign: ``--agents`` agents come online; dispatch fills their ``--capacity`` slots
   (assignments per second).
3. notify: with free slots, new conversations arrive at ``--rate`` per second; each one's latency is
   from the start of ``enqueue`` to the agent's pub/sub "offered" event.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

from core.keys import Keys
from core.redis import AsyncRedis, EmbeddedRedis, async_client, close_async
from core.state import ConversationStates, Owner
from handoff.queue import HandoffQueue, QueueSettings


def percentiles(values: list[float]) -> str:
    """Return p50/p99 in milliseconds."""
    ms = np.array(values) * 1000
    return f"p50 {np.percentile(ms, 50):.2f} ms, p99 {np.percentile(ms, 99):.2f} ms"


async def drop_keys(client: AsyncRedis, prefix: str) -> None:
    """Delete every key a run made under its random ``prefix``."""
    async for key in client.scan_iter(match=f"{prefix}*", count=1000):
        await client.delete(key)


def redis_benchmark(url: str) -> None:
    """Print redis-benchmark's own figures against the same server, when the tool and a TCP URL exist."""
    tool = shutil.which("redis-benchmark")
    if not tool or not url.startswith("redis://"):
        print("redis-benchmark: not run (tool missing or Redis on a unix socket)")
        return
    host_port = url.split("//", 1)[1].split("/", 1)[0]
    host, _, port = host_port.rpartition(":")
    out = subprocess.run(
        [
            tool,
            "-h",
            host or "127.0.0.1",
            "-p",
            port or "6379",
            "-q",
            "-n",
            "50000",
            "-t",
            "set,get,zadd,lpush",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    print("redis-benchmark (50,000 requests, 50 clients):")
    for line in out.stdout.replace("\r", "\n").splitlines():
        if "requests per second" in line:
            print("  " + line.strip())


async def run(url: str, waiting: int, agents: int, capacity: int, rate: float, fresh: int) -> None:
    """Run the three phases and print their figures."""
    client = async_client(url)
    prefix = "bench" + uuid.uuid4().hex[:8]
    keys = Keys(prefix)
    states = ConversationStates(client, keys)
    queue = HandoffQueue(client, prefix, states, QueueSettings(heartbeat_ttl_seconds=600))
    try:
        for i in range(agents):
            await queue.upsert_agent(f"a{i}", f"Agent {i}", ["support"], capacity)

        async def enqueue(conversation: str, tier: str) -> float:
            await states.transition(conversation, Owner.QUEUED, actor="bench", reason="bench")
            started = time.perf_counter()
            await queue.enqueue(conversation, team="support", tier=tier, first_message="hi")
            return time.perf_counter() - started

        latencies = []
        started = time.perf_counter()
        for i in range(waiting):
            latencies.append(await enqueue(f"w:{i}", "vip" if i % 10 == 0 else "regular"))
        elapsed = time.perf_counter() - started
        print(f"1. enqueue {waiting} (no agent online): {waiting / elapsed:.0f}/s, {percentiles(latencies)}")

        started = time.perf_counter()
        placements = []
        for i in range(agents):
            # Each agent coming online fills its slots from the queue (routing chain + atomic claim).
            placements.extend(await queue.set_status(f"a{i}", "online"))
        elapsed = time.perf_counter() - started
        print(
            f"2. route+assign: {len(placements)} offers to {agents} agents × {capacity} slots in "
            f"{elapsed:.2f} s = {len(placements) / elapsed:.0f} assignments/s"
        )

        # Free every slot (agents finish), leaving the queue empty enough that new arrivals route at once.
        for i in range(agents):
            for conversation in await queue.conversations_of(f"a{i}"):
                await queue._finish(
                    keys=[
                        queue._q.ticket(conversation),
                        queue._q.agent(f"a{i}"),
                        queue._q.convs(f"a{i}"),
                        queue._q.offers,
                        queue._q.handled,
                    ],
                    args=[conversation, f"a{i}", 60, queue._base],
                )
        for conversation in await client.zrange(queue._q.team_queue("support"), 0, -1):
            await client.delete(queue._q.ticket(conversation))
        await client.delete(queue._q.team_queue("support"))

        pubsub = client.pubsub()
        await pubsub.psubscribe(queue._q.events("*"))
        sent: dict[str, float] = {}
        notified: dict[str, float] = {}

        async def listen() -> None:
            async for message in pubsub.listen():
                if message.get("type") == "pmessage":
                    event = json.loads(message["data"])
                    if event.get("type") == "offered":
                        notified.setdefault(event["conversation"], time.perf_counter())

        listener = asyncio.create_task(listen())
        await asyncio.sleep(0.2)
        interval = 1.0 / rate
        tasks = []
        started = time.perf_counter()
        for i in range(fresh):
            conversation = f"n:{i}"

            async def one(conversation: str = conversation) -> None:
                await states.transition(conversation, Owner.QUEUED, actor="bench", reason="bench")
                sent[conversation] = time.perf_counter()
                await queue.enqueue(conversation, team="support", first_message="hi")

            tasks.append(asyncio.create_task(one()))
            await asyncio.sleep(max(0.0, started + (i + 1) * interval - time.perf_counter()))
        await asyncio.gather(*tasks)
        await asyncio.sleep(0.5)
        listener.cancel()
        await pubsub.punsubscribe()
        delays = [notified[c] - sent[c] for c in sent if c in notified]
        elapsed = time.perf_counter() - started
        print(
            f"3. enqueue→agent notified at {rate:.0f}/s offered ({fresh} handoffs in {elapsed:.2f} s): "
            f"{len(delays)}/{fresh} notified, {percentiles(delays) if delays else 'none'}"
        )
    finally:
        await drop_keys(client, prefix)
        await close_async(client)


def main() -> None:
    """Parse flags and run against REDIS_URL or an embedded Redis."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--waiting", type=int, default=10_000)
    parser.add_argument("--agents", type=int, default=200)
    parser.add_argument("--capacity", type=int, default=5)
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--fresh", type=int, default=1000, help="new handoffs in phase 3")
    args = parser.parse_args()
    url = os.environ.get("REDIS_URL")
    if url:
        redis_benchmark(url)
        asyncio.run(run(url, args.waiting, args.agents, args.capacity, args.rate, args.fresh))
        return
    with tempfile.TemporaryDirectory() as tmp, EmbeddedRedis(Path(tmp)) as embedded_url:
        redis_benchmark(embedded_url)
        asyncio.run(run(embedded_url, args.waiting, args.agents, args.capacity, args.rate, args.fresh))


if __name__ == "__main__":
    main()
