"""Cross-instance signals on Redis Cluster: pub/sub on one node vs a stream read with blocking XREAD.

    python -m bench.cluster_signals [--messages 2000] [--standalone-url URL]

The engine carries its signals (KB publishes, agent events, the console feed, widget mailboxes) between
instances. redis-py 4.6's asyncio cluster client has no pub/sub, so two ways were open: a plain pub/sub
connection to one node (the cluster bus carries a PUBLISH to every node), or a stream per signal read with
blocking XREAD (which also replays what a reconnecting reader missed). Both run here on a 3x3 cluster
started from Debian's redis-server, one signal at a time from publisher to listener (the engine's
pattern: a signal, then a read of the state it names), and on a standalone server for reference.
Printed: p50 / p99 delivery latency. (Recovery after a node loss is what tests/bot/test_failover.py
measures for the whole engine.)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path

from core.redis import AsyncRedis, async_client, close_async
from tests.cluster import ClusterGroup

CHANNEL = "bench:{sig}:chan"
STREAM = "bench:{sig}:stream"


async def pubsub_latencies(client: AsyncRedis, messages: int) -> list[float]:
    """Publish ``messages`` signals one at a time; return each one's time to the subscriber."""
    pubsub = client.pubsub()
    await pubsub.subscribe(CHANNEL)
    await pubsub.get_message(timeout=1.0)  # the subscribe confirmation
    out = []
    try:
        for _ in range(messages):
            started = time.perf_counter()
            await client.publish(CHANNEL, "x")
            while await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0) is None:
                pass
            out.append(time.perf_counter() - started)
    finally:
        await pubsub.reset()
    return out


async def stream_latencies(client: AsyncRedis, messages: int) -> list[float]:
    """Append ``messages`` signals one at a time; return each one's time to a blocking XREAD."""
    await client.delete(STREAM)
    last = "0-0"  # not "$": an XADD that overtakes the XREAD on another connection is still read
    out = []
    for _ in range(messages):
        reader = asyncio.create_task(client.xread({STREAM: last}, count=10, block=1000))
        await asyncio.sleep(0)  # the read is waiting before the signal goes
        started = time.perf_counter()
        await client.xadd(STREAM, {"s": "x"}, maxlen=1000, approximate=True)
        got = await reader
        out.append(time.perf_counter() - started)
        last = got[0][1][-1][0] if got else last
    await client.delete(STREAM)
    return out


def row(name: str, latencies: list[float]) -> str:
    q = statistics.quantiles(latencies, n=100)
    return f"| {name} | {len(latencies)} | {q[49] * 1e6:.0f} µs | {q[98] * 1e6:.0f} µs |"


async def main_async(args: argparse.Namespace) -> None:
    rows = []
    standalone = async_client(args.standalone_url)
    try:
        rows.append(row("standalone: pub/sub", await pubsub_latencies(standalone, args.messages)))
        rows.append(row("standalone: stream + XREAD", await stream_latencies(standalone, args.messages)))
    finally:
        await close_async(standalone)
    with tempfile.TemporaryDirectory() as folder:
        group = ClusterGroup(Path(folder))
        await group.start()
        client = async_client(group.url)
        try:
            await client.ping()
            rows.append(row("cluster: pub/sub on one node", await pubsub_latencies(client, args.messages)))
            rows.append(row("cluster: stream + XREAD", await stream_latencies(client, args.messages)))
        finally:
            await close_async(client)
            await group.stop()
    print("| signal | n | p50 | p99 |\n|---|---:|---:|---:|")
    print("\n".join(rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--standalone-url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
