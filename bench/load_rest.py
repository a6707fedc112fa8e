"""Load-test the REST channel: the engine and the standard Rasa deployment of the same model, side by side.

    python -m bench.load_rest [--customers 20] [--messages 600] [--rounds 2] [--ted] [--bot-turns 10 30]

Starts both servers itself: the engine (``python -m bot serve``: Rasa in-process, actions in-process)
and the standard deployment (``rasa run --enable-api`` + ``rasa run actions --actions bot.actions``),
both with their trackers and locks in the same Redis. Simulated customers then send a realistic
zh/en mix (greetings, FAQ questions, unknown questions, 转人工, thanks, goodbyes) to one server at a
time, alternating rounds to cancel drift, and the figures are printed: msgs/s and p50/p99 latency.
With ``--ted`` a third target runs the engine on a model trained from ``bench/config_ted.yml`` (the same
pipeline plus TEDPolicy), to show what TED costs per message.
With ``--bot-turns N …`` the traffic is made of bot turns only, for each conversation length N: the explicit
handoff phrases are left out, each customer starts a new conversation after N messages, and whenever a
message was not answered by a bot turn (held for a human: the engine answers nothing; a handoff notice on
either side) the customer starts a new one too; only bot turns are counted, on both sides. The CPU
seconds of each side's processes (the engine; ``rasa run`` and its action server) give msgs per CPU-second.
Needs a TCP Redis (``REDIS_URL``, default redis://127.0.0.1:6379/0): Rasa's own stores take host/port.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import aiohttp

from bot.dialogue.training import ensure_model
from bot.logging_setup import quiet_rasa_structlog
from bot.settings import PROJECT_ROOT

# (weight, zh, en) — what customers of a shop send, roughly in these proportions.
MIX: list[tuple[int, list[str], list[str]]] = [
    (15, ["你好", "在吗", "您好，请问在线吗"], ["hi", "hello there", "good morning"]),
    (
        40,
        ["退款多久到账", "怎么退货", "我的订单到哪了", "怎么开发票", "支持哪些付款方式", "忘记密码怎么办"],
        ["how long does a refund take", "where is my order", "how do i reset my password"],
    ),
    (10, ["你们能帮我修自行车吗", "有没有蓝色的雨伞"], ["can you paint my house", "do you sell boats"]),
    (10, ["谢谢", "好的谢谢"], ["thanks", "thank you"]),
    (8, ["今天天气怎么样", "讲个笑话"], ["tell me a joke", "what's the weather"]),
    (7, ["再见", "拜拜"], ["bye", "see you"]),
    (5, ["你是机器人吗"], ["are you a bot"]),
    (5, ["转人工", "我要找人工客服"], ["talk to a human", "agent please"]),
]


def pick(rng: random.Random) -> str:
    """Return one message drawn from the mix (70 % Chinese customers)."""
    weights = [w for w, _, _ in MIX]
    _, zh, en = rng.choices(MIX, weights)[0]
    return rng.choice(zh if rng.random() < 0.7 else en)


def free_port() -> int:
    """Return a free TCP port on localhost."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Result:
    """Latencies of one load run."""

    target: str
    latencies: list[float]
    seconds: float
    errors: int
    cpu_seconds: float = 0.0

    def line(self) -> str:
        """Format the figures as one line."""
        lat = sorted(self.latencies)
        p50 = statistics.median(lat) * 1000
        p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000
        rate = len(lat) / self.seconds
        per_cpu = f"  {len(lat) / self.cpu_seconds:6.1f} msgs/CPU-s" if self.cpu_seconds else ""
        return (
            f"{self.target:22} {rate:7.1f} msgs/s  p50 {p50:7.1f} ms  p99 {p99:7.1f} ms  errors {self.errors}"
            + per_cpu
        )


async def load(url: str, target: str, customers: int, messages: int, seed: int) -> Result:
    """Send ``messages`` messages from ``customers`` concurrent customers; each waits for its reply."""
    rng = random.Random(seed)
    latencies: list[float] = []
    errors = 0
    remaining = messages

    async def customer(session: aiohttp.ClientSession) -> None:
        nonlocal remaining, errors
        sender = f"bench-{uuid.uuid4().hex[:10]}"
        while remaining > 0:
            remaining -= 1
            text = pick(rng)
            started = time.perf_counter()
            async with session.post(url, json={"sender": sender, "message": text}) as response:
                await response.read()
                if response.status != 200:
                    errors += 1
            latencies.append(time.perf_counter() - started)
            if text in ("转人工", "我要找人工客服", "talk to a human", "agent please"):
                sender = f"bench-{uuid.uuid4().hex[:10]}"  # handed over: a new customer takes the seat

    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        started = time.perf_counter()
        await asyncio.gather(*(customer(session) for _ in range(customers)))
        seconds = time.perf_counter() - started
    return Result(target, latencies, seconds, errors)


HANDOFF_NOTICES = ("转接人工", "connecting you to a human")


def _stat(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def with_children(pids: list[int]) -> list[int]:
    """Return ``pids`` and every live process below them (an engine's WORKERS, for their CPU)."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int(_stat(int(entry.name))[1])
            except (OSError, IndexError, ValueError):
                continue  # gone meanwhile
    found, frontier = list(pids), list(pids)
    while frontier:
        frontier = [child for child, parent in parents.items() if parent in frontier]
        found += frontier
    return found


def cpu_seconds(pids: list[int]) -> float:
    """Return the user + system CPU seconds the processes ``pids`` and their children have used so far.

    A worker's CPU is counted while it runs (Linux /proc); the children are found again at each call.
    """
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in with_children(pids):
        try:
            fields = _stat(pid)
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks
    return total


async def bot_turns(
    url: str, target: str, customers: int, turns: int, per_conversation: int, seed: int, pids: list[int]
) -> Result:
    """Send messages until ``turns`` bot turns were answered; a conversation lasts ``per_conversation``."""
    rng = random.Random(seed)
    latencies: list[float] = []
    errors = 0
    handoff_phrases = set(MIX[-1][1] + MIX[-1][2])

    async def customer(session: aiohttp.ClientSession) -> None:
        nonlocal errors
        sender, said = f"bench-{uuid.uuid4().hex[:10]}", 0
        while len(latencies) < turns:
            if said == per_conversation:
                sender, said = f"bench-{uuid.uuid4().hex[:10]}", 0
            while (text := pick(rng)) in handoff_phrases:
                pass
            started = time.perf_counter()
            async with session.post(url, json={"sender": sender, "message": text}) as response:
                replies = await response.json() if response.status == 200 else []
                errors += response.status != 200
            said += 1
            answered = " ".join(str(r.get("text", "")) for r in replies)
            if not replies or any(n in answered for n in HANDOFF_NOTICES):
                sender, said = f"bench-{uuid.uuid4().hex[:10]}", 0  # with a human now: a new customer
                if not replies:
                    continue  # held for the agent: not a bot turn
            latencies.append(time.perf_counter() - started)

    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        used, started = cpu_seconds(pids), time.perf_counter()
        await asyncio.gather(*(customer(session) for _ in range(customers)))
        seconds = time.perf_counter() - started
    return Result(target, latencies, seconds, errors, cpu_seconds(pids) - used)


async def wait_ready(url: str, proc: subprocess.Popen[bytes], seconds: float = 300) -> None:
    """Wait until a server answers a real message (its model is loaded)."""
    deadline = time.monotonic() + seconds
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited with {proc.returncode}")
            try:
                async with session.post(url, json={"sender": "probe", "message": "你好"}) as response:
                    if response.status == 200 and await response.json():
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.5)
    raise TimeoutError(f"{url} not ready after {seconds} s")


@contextmanager
def servers(
    model: Path, redis_url: str, prefix: str, ted_model: Path | None
) -> Iterator[tuple[dict[str, tuple[str, subprocess.Popen[bytes]]], int]]:
    """Start the engine and the standard Rasa deployment; yield them and the action server's pid."""
    parsed = urlparse(redis_url)
    db = (parsed.path or "/0").lstrip("/") or "0"
    engine_port, rasa_port, actions_port = free_port(), free_port(), free_port()
    env = {
        **os.environ,
        "REDIS_URL": redis_url,
        "REDIS_PREFIX": prefix,
        "PYTHONPATH": str(PROJECT_ROOT),
        "RASA_TELEMETRY_ENABLED": "false",
        "LOG_LEVEL": "WARNING",
    }
    py = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        endpoints = Path(tmp) / "endpoints.yml"
        endpoints.write_text(
            f"action_endpoint:\n  url: http://127.0.0.1:{actions_port}/webhook\n"
            f"tracker_store:\n  type: redis\n  url: {parsed.hostname}\n  port: {parsed.port or 6379}\n"
            f"  db: {db}\n  key_prefix: {prefix}std\n"
            f"lock_store:\n  type: redis\n  url: {parsed.hostname}\n  port: {parsed.port or 6379}\n"
            f"  db: {db}\n  key_prefix: {prefix}std\n",
            encoding="utf-8",
        )
        credentials = Path(tmp) / "credentials.yml"
        credentials.write_text("rest:\n", encoding="utf-8")
        out = subprocess.DEVNULL
        procs = {
            "engine (in-process)": (
                f"http://127.0.0.1:{engine_port}/webhooks/rest/webhook",
                subprocess.Popen(
                    [py, "-m", "bot", "serve", "--no-train", "--port", str(engine_port)],
                    cwd=PROJECT_ROOT,
                    env={**env, "MODEL_DIR": str(model.parent)},
                    stdout=out,
                    stderr=out,
                ),
            ),
            "standard rasa run": (
                f"http://127.0.0.1:{rasa_port}/webhooks/rest/webhook",
                subprocess.Popen(
                    [
                        py,
                        "-m",
                        "rasa",
                        "run",
                        "--enable-api",
                        "-m",
                        str(model),
                        "--port",
                        str(rasa_port),
                        "--endpoints",
                        str(endpoints),
                        "--credentials",
                        str(credentials),
                    ],
                    cwd=PROJECT_ROOT,
                    env=env,
                    stdout=out,
                    stderr=out,
                ),
            ),
        }
        if ted_model is not None:
            ted_port = free_port()
            procs["engine + TEDPolicy"] = (
                f"http://127.0.0.1:{ted_port}/webhooks/rest/webhook",
                subprocess.Popen(
                    [py, "-m", "bot", "serve", "--port", str(ted_port)],
                    cwd=PROJECT_ROOT,
                    env={**env, "MODEL_PATH": str(ted_model), "REDIS_PREFIX": prefix + "ted"},
                    stdout=out,
                    stderr=out,
                ),
            )
        actions = subprocess.Popen(
            [py, "-m", "rasa", "run", "actions", "--actions", "bot.actions", "--port", str(actions_port)],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=out,
            stderr=out,
        )
        try:
            yield procs, actions.pid
        finally:
            for _, proc in [*procs.values(), (None, actions)]:
                proc.terminate()
            for _, proc in [*procs.values(), (None, actions)]:
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()


def summarise(results: dict[str, list[Result]], what: str) -> None:
    """Print the merged figures of every target and the ratios against the standard deployment."""
    merged = {
        t: Result(
            t,
            [x for r in rs for x in r.latencies],
            sum(r.seconds for r in rs),
            sum(r.errors for r in rs),
            sum(r.cpu_seconds for r in rs),
        )
        for t, rs in results.items()
    }
    print(f"overall ({what}):")
    for result in merged.values():
        print("  " + result.line())
    base = merged["standard rasa run"]
    for target, result in merged.items():
        if target == "standard rasa run":
            continue
        ratio = (len(result.latencies) / result.seconds) / (len(base.latencies) / base.seconds)
        line = f"{target} / standard rasa run throughput ratio: {ratio:.2f}"
        if result.cpu_seconds and base.cpu_seconds:
            per_cpu = (len(result.latencies) / result.cpu_seconds) / (len(base.latencies) / base.cpu_seconds)
            line += f"; per CPU-second: {per_cpu:.2f}"
        print(line)


Targets = dict[str, tuple[str, subprocess.Popen[bytes]]]


async def compare_mix(procs: Targets, args: argparse.Namespace) -> None:
    """The default mix (handoffs included), rounds alternating between the targets."""
    results: dict[str, list[Result]] = {t: [] for t in procs}
    for round_no in range(args.rounds):
        for target, (url, _) in procs.items():
            result = await load(url, target, args.customers, args.messages, seed=round_no + 1)
            results[target].append(result)
            print(f"round {round_no + 1}: {result.line()}")
    summarise(results, "the default mix")


async def compare_bot_turns(
    procs: Targets, pids: dict[str, list[int]], args: argparse.Namespace, length: int
) -> None:
    """Bot turns only, conversations of ``length`` messages, rounds alternating between the targets."""
    results: dict[str, list[Result]] = {t: [] for t in procs}
    for round_no in range(args.rounds):
        for target, (url, _) in procs.items():
            result = await bot_turns(
                url, target, args.customers, args.messages, length, round_no + 1, pids[target]
            )
            results[target].append(result)
            print(f"{length} turns, round {round_no + 1}: {result.line()}")
    summarise(results, f"bot turns only, conversations of {length}")


async def main_async(args: argparse.Namespace) -> None:
    """Run the benchmark and print its figures."""
    quiet_rasa_structlog()  # training would otherwise print Rasa's per-decision debug dumps
    model = ensure_model(PROJECT_ROOT / "var" / "models")
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    prefix = "bench" + uuid.uuid4().hex[:8]
    ted_model = None
    if args.ted:
        ted_model = ensure_model(
            PROJECT_ROOT / "var" / "models-ted", config=PROJECT_ROOT / "bench" / "config_ted.yml"
        )
    print(
        f"model {model.name}; redis {redis_url}; {args.customers} customers, {args.messages} msgs/round, "
        f"{args.rounds} rounds; {os.cpu_count()} cores"
    )
    with servers(model, redis_url, prefix, ted_model) as (procs, actions_pid):
        await asyncio.gather(*(wait_ready(url, proc) for url, proc in procs.values()))
        for target, (url, _) in procs.items():  # warm-up: first TF calls are slow
            await load(url, target, args.customers, 100, seed=0)
        if args.bot_turns:
            pids = {
                t: [proc.pid] + ([actions_pid] if t == "standard rasa run" else [])
                for t, (_, proc) in procs.items()
            }
            for length in args.bot_turns:
                await compare_bot_turns(procs, pids, args, length)
        else:
            await compare_mix(procs, args)
    import redis

    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(match=f"{prefix}*", count=1000):
        client.delete(key)
    client.close()
    client.connection_pool.disconnect()


def main() -> None:
    """Parse arguments and run."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--customers", type=int, default=20)
    parser.add_argument("--messages", type=int, default=600)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--ted", action="store_true", help="also measure the engine with TEDPolicy")
    parser.add_argument(
        "--bot-turns", type=int, nargs="*", help="bot turns only, for each of these conversation lengths"
    )
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
