"""Overload on the Telegram webhook: more than one engine answers, for a while; backlog, 503s, RSS, drain.

    python -m bench.overload [--rate 120] [--seconds 60] [--customers 300] [--limit 5000]

Starts ``python -m bot serve`` (the trained model; Redis at ``REDIS_URL`` or 127.0.0.1:6379, keys under a
random prefix, deleted after) with Telegram pointed at the fake Bot API in this process. Open loop: update
*i* is posted at ``t0 + i / rate`` from customer ``i % customers``, whatever happened to the earlier ones;
customer *c*'s *k*-th message is the FAQ question ``k % 5``, so each has exactly one known answer and the
replies' order can be checked. A webhook answered 503 is posted again after its ``Retry-After``, and a
chat's next update goes only once the one before was taken, as Telegram does. Every second the backlog
(conversations listed as waiting, messages queued) and the engine's RSS are sampled. Printed: updates
offered and refusals, the webhook's acknowledgement p50/p99/max, the engine's answer rate while offered,
the backlog and RSS peaks, the drain time after the last update, and how many customers got every
answer, in order.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import redis.asyncio as aioredis
import yaml

from bench.channels_latency import engine
from bench.load_rest import free_port
from bot.dialogue.training import ensure_model
from bot.settings import PROJECT_ROOT
from tests.fakes import recorder
from tests.fakes.recorder import Call
from tests.fakes.telegram import FakeTelegram

TOKEN = "7000009:AAHbenchOVERLOADtoken-for-the-fake-00"
SECRET = "overload-bench-secret_01"
QUESTIONS = ("退款多久到账", "怎么退货", "什么时候发货", "怎么开发票", "支持哪些付款方式")


def answers() -> list[str]:
    """Return the FAQ answer of each question, in `QUESTIONS` order."""
    data = yaml.safe_load((PROJECT_ROOT / "knowledge_base" / "data" / "faq.yml").read_text(encoding="utf-8"))
    found = {
        q: str(e["answer"]).strip()
        for e in data["entries"]
        for q in e.get("questions") or ()
        if q in QUESTIONS
    }
    return [found[q] for q in QUESTIONS]


def rss_mb(pid: int) -> float:
    """Return the resident set size of process ``pid`` in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


@dataclass
class Offered:
    """What the platform saw while it offered the load."""

    acks: list[float] = field(default_factory=list)
    refused: int = 0
    samples: list[tuple[int, int, float]] = field(default_factory=list)  # conversations, messages, RSS


async def post(
    session: aiohttp.ClientSession,
    url: str,
    chat: int,
    update_id: int,
    text: str,
    offered: Offered,
    before: asyncio.Task[None] | None,
) -> None:
    """Deliver one update as Telegram does: after the chat's previous one, again after each 503."""
    if before is not None:
        await before
    user = {"id": chat, "is_bot": False, "first_name": "O", "language_code": "zh-hans"}
    body = {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": int(time.time()),
            "chat": {"id": chat, "type": "private"},
            "from": user,
            "text": text,
        },
    }
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    while True:
        began = time.perf_counter()
        async with session.post(url, json=body, headers=headers) as response:
            await response.read()
            offered.acks.append(time.perf_counter() - began)
            if response.status == 200:
                return
            offered.refused += 1
            await asyncio.sleep(float(response.headers.get("Retry-After", "5")))


async def sample(
    redis: aioredis.Redis[str], prefix: str, pid: int, offered: Offered, done: asyncio.Event
) -> None:
    """Each second: the conversations listed as waiting, their queued messages, the engine's RSS."""
    while not done.is_set() or await redis.zcard(f"{prefix}:inq:active"):
        listed = await redis.zrange(f"{prefix}:inq:active", 0, -1)
        queued = 0
        for conversation in listed:
            queued += await redis.xlen(f"{prefix}:conv:{{{conversation}}}:inq")
        offered.samples.append((len(listed), queued, rss_mb(pid)))
        await asyncio.sleep(1.0)


def addressed_to(chat: int) -> Callable[[Call], bool]:
    """Match the Bot API calls sent to ``chat``."""
    return lambda call: bool(call.params.get("chat_id") == chat)


def in_order(fake: FakeTelegram, base_chat: int, customers: int, total: int) -> int:
    """Return how many customers got every answer, each to its question, in the order asked."""
    expected, count = answers(), 0
    for c in range(customers):
        calls = fake.of("sendMessage", addressed_to(base_chat + c))
        got = [str(x.params.get("text", "")) for x in calls]
        mine = [expected[k % len(QUESTIONS)] for k in range(len(range(c, total, customers)))]
        count += len(got) == len(mine) and all(a in g for a, g in zip(mine, got, strict=True))
    return count


def report(
    args: argparse.Namespace, offered: Offered, total: int, served: float, drained: float, ok: int
) -> None:
    """Print the figures."""
    acks, samples = offered.acks, offered.samples
    peak = max(samples, key=lambda s: s[1])
    rss = [s[2] for s in samples]
    p50, p99, top = (x * 1000 for x in (pct(acks, 0.5), pct(acks, 0.99), max(acks)))
    lines = [
        f"offered {args.rate:.0f} msgs/s for {args.seconds:.0f} s: {total} updates, {offered.refused} 503s",
        f"webhook ack p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {top:.1f} ms",
        f"answered while offered: {served:.1f} msgs/s; backlog peak {peak[1]} msgs in {peak[0]} chats",
        f"engine RSS: start {rss[0]:.0f} MB, peak {max(rss):.0f} MB, end {rss[-1]:.0f} MB",
        f"drained {drained:.1f} s after the last update; all answers in order for {ok}/{args.customers}",
    ]
    print("\n".join(lines))


async def offer(args: argparse.Namespace, url: str, base_chat: int, offered: Offered) -> None:
    """Post the updates open-loop at the rate asked (each retried after a 503 as Telegram does)."""
    total = int(args.rate * args.seconds)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        t0 = time.monotonic()
        last: dict[int, asyncio.Task[None]] = {}
        for i in range(total):
            await asyncio.sleep(max(0.0, t0 + i / args.rate - time.monotonic()))
            text = QUESTIONS[(i // args.customers) % len(QUESTIONS)]
            chat = base_chat + i % args.customers
            update = post(session, url, chat, 10**9 + i, text, offered, last.get(chat))
            last[chat] = asyncio.create_task(update)
        await asyncio.gather(*last.values())


async def main() -> None:
    """Run the overload and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=120)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--customers", type=int, default=300)
    parser.add_argument("--limit", type=int, default=5000, help="INBOUND_BACKLOG_LIMIT for the engine")
    args = parser.parse_args()
    model = ensure_model(PROJECT_ROOT / "var" / "models")
    fake = FakeTelegram(TOKEN)
    server, fake_url = await recorder.start(fake.app())
    port, prefix = free_port(), "bench" + uuid.uuid4().hex[:8]
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    env = {
        **os.environ,
        "REDIS_URL": redis_url,
        "REDIS_PREFIX": prefix,
        "MODEL_DIR": str(model.parent),
        "LOG_LEVEL": "ERROR",
        "PYTHONPATH": str(PROJECT_ROOT),
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_WEBHOOK_SECRET": SECRET,
        "TELEGRAM_API_BASE_URL": fake_url,
        "INBOUND_BACKLOG_LIMIT": str(args.limit),
    }
    proc = await engine(env, port)
    redis = aioredis.Redis.from_url(redis_url, decode_responses=True)
    base_chat = 30_000_000 + int(uuid.uuid4().hex[:5], 16) * 1000
    total = int(args.rate * args.seconds)
    offered, done = Offered(), asyncio.Event()
    sampler = asyncio.create_task(sample(redis, prefix, proc.pid, offered, done))
    try:
        started = time.monotonic()
        await offer(args, f"http://127.0.0.1:{port}/webhooks/telegram", base_chat, offered)
        served = len(fake.of("sendMessage")) / (time.monotonic() - started)
        done.set()
        sent_at = time.monotonic()
        await fake.wait_for("sendMessage", count=total, timeout=1800)
        drained = time.monotonic() - sent_at
        await sampler
        report(args, offered, total, served, drained, in_order(fake, base_chat, args.customers, total))
    finally:
        done.set()
        sampler.cancel()
        proc.terminate()
        proc.wait()
        async for key in redis.scan_iter(match=f"{prefix}*", count=500):
            await redis.delete(key)
        await redis.close()
        await server.close()


if __name__ == "__main__":
    asyncio.run(main())
