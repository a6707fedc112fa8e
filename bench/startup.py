"""Start-up time and memory of one engine process with the trained model.

    python -m bench.startup [--runs 3] [--turns 1200] [--restarts]

Each run starts ``python -m bot serve --no-train`` as one process (``WORKERS=1``) on ``REDIS_URL``
(default redis://127.0.0.1:6379/0) and times it from spawn to ``/healthz`` answering 200, which it does
once the Rasa model is loaded. It then reads the process's resident memory (``VmRSS``), sends ``--turns``
bot turns from 20 concurrent customers in conversations of 10 (``bench.load_rest``'s traffic), and reads
``VmRSS`` and its peak (``VmHWM``) again. Issue 17 asks for ≤ 20 s to healthy and ≤ 1 GB per process.
Each run is a new deployment (a key prefix of its own) unless ``--restarts``: then every run after the
first restarts the same one, as a deploy or a crash does.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
import uuid

import aiohttp

from bench.load_rest import bot_turns, free_port
from bot.dialogue.training import ensure_model
from bot.settings import PROJECT_ROOT


def memory_mb(pid: int) -> dict[str, float]:
    """Return the process's VmRSS and VmHWM in MB."""
    fields: dict[str, float] = {}
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                fields[name] = int(value.split()[0]) / 1024
    return fields


async def healthy(url: str, process: subprocess.Popen[bytes], seconds: float = 300) -> float:
    """Wait for ``url`` to answer 200; return how long that took."""
    started = time.perf_counter()
    async with aiohttp.ClientSession() as http:
        while time.perf_counter() - started < seconds:
            if process.poll() is not None:
                raise RuntimeError(f"the engine exited with {process.returncode}")
            try:
                async with http.get(url) as response:
                    if response.status == 200:
                        return time.perf_counter() - started
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
    raise TimeoutError(f"{url} not healthy after {seconds} s")


def _spawn(port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "bot", "serve", "--no-train", "--port", str(port)]
    return subprocess.Popen(
        command, cwd=PROJECT_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


async def one_run(redis_url: str, turns: int, seed: int, prefix: str) -> str:
    """Start, measure and stop one engine process; return its line."""
    port = free_port()
    env = {
        **os.environ,
        "REDIS_URL": redis_url,
        "REDIS_PREFIX": prefix,
        "WORKERS": "1",
        "LOG_LEVEL": "WARNING",
        "RASA_TELEMETRY_ENABLED": "false",
    }
    spawned = time.perf_counter()
    process = _spawn(port, env)
    try:
        await healthy(f"http://127.0.0.1:{port}/healthz", process)
        to_healthy = time.perf_counter() - spawned
        loaded = memory_mb(process.pid)
        url = f"http://127.0.0.1:{port}/webhooks/rest/webhook"
        result = await bot_turns(url, "engine", 20, turns, 10, seed, [process.pid])
        after = memory_mb(process.pid)
    finally:
        process.terminate()
        process.wait(timeout=30)
    rate = len(result.latencies) / result.seconds
    return (
        f"healthy after {to_healthy:5.1f} s  RSS loaded {loaded['VmRSS']:6.0f} MB  "
        f"after {len(result.latencies)} turns ({rate:.0f} msgs/s) {after['VmRSS']:6.0f} MB  "
        f"peak {after['VmHWM']:6.0f} MB"
    )


async def main_async(args: argparse.Namespace) -> None:
    """Run and print every run."""
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    ensure_model(PROJECT_ROOT / "var" / "models")  # the processes start with --no-train
    print(f"redis {redis_url}; {args.runs} runs, {args.turns} bot turns each, 20 customers")
    shared = "benchstart" + uuid.uuid4().hex[:6]
    for run in range(args.runs):
        prefix = shared if args.restarts else "benchstart" + uuid.uuid4().hex[:6]
        print(f"run {run + 1}: " + await one_run(redis_url, args.turns, run, prefix), flush=True)


def main() -> None:
    """Parse arguments and run."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--turns", type=int, default=1200)
    parser.add_argument("--restarts", action="store_true", help="runs after the first restart the same one")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
