"""Throughput of 1, 2 and 3 engine instances on one Redis deployment: standalone and a 3x3 Redis Cluster.

    python -m bench.scale_out [--instances 1 2 3] [--customers 30] [--messages 600] [--standalone-url URL]

For each topology (a standalone server: ``--standalone-url``, default redis://127.0.0.1:6379/0; a
3-master / 3-replica cluster started here from Debian's redis-server, as the tests start it) and each
instance count, that many ``python -m bot serve`` processes run on it with a fresh key prefix, and
simulated customers send the load_rest mix (zh/en FAQ questions, small talk, handoffs) with every message
going to the next instance in turn, as an alternating load balancer would. Printed per run: msgs/s,
p50/p99 latency, errors, and the CPU seconds per message of the engines and of the Redis servers.
Everything shares this machine's cores, so the figures say what the topology costs, not how a fleet of
hosts scales; Redis ops per message are `bench.redis_ops`'s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import aiohttp

from bench.load_rest import cpu_seconds, free_port, pick, wait_ready
from bot.dialogue.training import ensure_model
from bot.settings import PROJECT_ROOT
from tests.cluster import ClusterGroup

HANDOFF = ("转人工", "我要找人工客服", "talk to a human", "agent please")


def start_engines(count: int, redis_url: str, model: Path) -> list[tuple[str, subprocess.Popen[bytes]]]:
    """Start ``count`` engine processes on ``redis_url`` with one fresh prefix; return (url, process)."""
    prefix = "scale" + uuid.uuid4().hex[:6]
    engines = []
    for i in range(count):
        port = free_port()
        env = {
            **os.environ,
            "REDIS_URL": redis_url,
            "REDIS_PREFIX": prefix,
            "INSTANCE_ID": f"scale-{i}",
            "WORKERS": "1",  # instances are counted here; each is one process
            "MODEL_DIR": str(model.parent),
            "PYTHONPATH": str(PROJECT_ROOT),
            "LOG_LEVEL": "WARNING",
        }
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", "serve", "--no-train", "--port", str(port)],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        engines.append((f"http://127.0.0.1:{port}/webhooks/rest/webhook", process))
    return engines


async def load(urls: list[str], customers: int, messages: int, seed: int) -> tuple[list[float], float, int]:
    """Send ``messages`` from ``customers`` customers, each message to the next instance; return latencies."""
    rng = random.Random(seed)
    latencies: list[float] = []
    errors = 0
    remaining = messages
    turn = 0

    async def customer(session: aiohttp.ClientSession) -> None:
        nonlocal remaining, errors, turn
        sender = f"scale-{uuid.uuid4().hex[:10]}"
        while remaining > 0:
            remaining -= 1
            text = pick(rng)
            url = urls[turn % len(urls)]
            turn += 1
            started = time.perf_counter()
            async with session.post(url, json={"sender": sender, "message": text}) as response:
                await response.read()
                errors += response.status != 200
            latencies.append(time.perf_counter() - started)
            if text in HANDOFF:
                sender = f"scale-{uuid.uuid4().hex[:10]}"  # handed over: a new customer takes the seat

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
        started = time.perf_counter()
        await asyncio.gather(*(customer(session) for _ in range(customers)))
        return latencies, time.perf_counter() - started, errors


async def measure(
    topology: str, redis_url: str, redis_pids: list[int], count: int, model: Path, args: argparse.Namespace
) -> str:
    """Run one topology with ``count`` instances; return its table row."""
    engines = start_engines(count, redis_url, model)
    try:
        await asyncio.gather(*(wait_ready(url, process) for url, process in engines))
        urls = [url for url, _ in engines]
        await load(urls, args.customers, 60, seed=1)  # warm-up: first turns load lazily
        pids = [process.pid for _, process in engines]
        engine_cpu, redis_cpu = cpu_seconds(pids), cpu_seconds(redis_pids)
        latencies, seconds, errors = await load(urls, args.customers, args.messages, seed=2)
        engine_cpu, redis_cpu = cpu_seconds(pids) - engine_cpu, cpu_seconds(redis_pids) - redis_cpu
    finally:
        for _, process in engines:
            process.terminate()
        for _, process in engines:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
    quantiles = statistics.quantiles(latencies, n=100)
    n = len(latencies)
    p50, p99 = quantiles[49] * 1000, quantiles[98] * 1000
    return (
        f"| {topology} | {count} | {n / seconds:.1f} | {p50:.0f} / {p99:.0f} ms | {errors}"
        f" | {engine_cpu / n * 1000:.1f} | {redis_cpu / n * 1000:.2f} |"
    )


def server_pids(ports: list[int]) -> list[int]:
    """Return the pids of the redis-servers listening on ``ports`` (for their CPU seconds)."""
    found = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True, check=False).stdout
    pids = []
    for line in found.splitlines():
        if any(f"127.0.0.1:{port} " in line for port in ports) and "pid=" in line:
            pids.append(int(line.split("pid=")[1].split(",")[0]))
    return pids


async def main_async(args: argparse.Namespace) -> None:
    model = ensure_model(PROJECT_ROOT / "var" / "models")
    header = (
        "| topology | instances | msgs/s | p50 / p99 | errors | engine CPU ms/msg | Redis CPU ms/msg |\n"
        "|---|---:|---:|---|---:|---:|---:|"
    )
    rows = []
    standalone_pids = server_pids([int(args.standalone_url.rsplit(":", 1)[1].split("/")[0])])
    for count in args.instances:
        rows.append(await measure("standalone", args.standalone_url, standalone_pids, count, model, args))
        print(rows[-1], flush=True)
    with tempfile.TemporaryDirectory() as folder:
        group = ClusterGroup(Path(folder))
        await group.start()
        try:
            pids = [s.process.pid for s in group.servers if s.process is not None]
            for count in args.instances:
                rows.append(await measure("cluster 3x3", group.url, pids, count, model, args))
                print(rows[-1], flush=True)
        finally:
            await group.stop()
    print(header)
    print("\n".join(rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--instances", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--customers", type=int, default=30)
    parser.add_argument("--messages", type=int, default=600)
    parser.add_argument("--standalone-url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
