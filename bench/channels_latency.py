"""Inbound webhook → reply sent per channel, real model: latency at a fixed rate, and the most it sustains.

    python -m bench.channels_latency [--rate 200] [--burst 5] [--seconds 10] [--sweep 10,20,30,40]

Starts the engine (``python -m bot serve``, real model, Redis at ``REDIS_URL`` or 127.0.0.1:6379) with
Telegram, WeChat, WeCom and the web chat switched on and pointed at the local fakes of their platforms
in this process. Open-loop load: message *i* is sent at ``t0 + i / rate`` whatever happened to the
earlier ones, each from a different customer, drawn from the same zh/en mix as ``bench.load_rest``.
Each channel first runs rising rates (``--sweep``) until p99 passes 1 s, then a burst at ``--rate``;
between runs the engine drains its backlog, so no run inherits another's queue. Latency runs from just
before the webhook request to the moment the reply reaches the fake platform (WeChat: the passive reply
in the response when there is one). The REST channel, which answers inside the request, is the
baseline measured in the same run. Each row also gives the CPU the engine's processes and the Redis
server used per message over the run: at saturation the p99 is the queue's, the CPU is the turn's cost.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import redis.asyncio as aioredis
import xmltodict
from wechatpy.enterprise.crypto import WeChatCrypto as WecomCrypto

from bench.load_rest import cpu_seconds, free_port, pick
from bot.dialogue.training import ensure_model
from bot.settings import PROJECT_ROOT
from channels.wechat_api import signature
from tests.fakes import recorder
from tests.fakes.recorder import Call
from tests.fakes.telegram import FakeTelegram
from tests.fakes.wechat import FakeWechat
from tests.fakes.wecom import FakeWecom

TG_TOKEN, TG_SECRET = "7000001:AAHbenchTOKEN-local-fake_server01", "bench-secret"
WX_TOKEN, WX_APP, WX_SECRET = "wxBenchToken", "wxbench0000000001", "wxbenchsecret"
WC_CORP, WC_SECRET, WC_TOKEN, WC_KF = "wwbench00000001", "wcbenchsecret", "wcBenchToken", "wkbench"
WC_AES = "ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210zyxwvut"
DRAIN_SECONDS = 20.0


@dataclass
class Run:
    """Latencies of one channel at one rate."""

    channel: str
    rate: float
    sent: int
    latencies: list[float]
    errors: int
    # CPU per message of the engine's processes and of Redis, from the first message to the last reply.
    engine_ms: float = float("nan")
    redis_ms: float = float("nan")

    def p(self, q: float) -> float:
        """Return the q-quantile in ms (inf if replies are missing, which counts as slower than anything)."""
        values = sorted(self.latencies) + [float("inf")] * (self.sent - len(self.latencies))
        if not values:
            return float("nan")
        return values[min(len(values) - 1, int(q * len(values)))] * 1000

    def line(self) -> str:
        """Format one result row."""
        achieved = len(self.latencies)
        return (
            f"| {self.channel} | {self.rate:.0f} | {self.sent} | {achieved} | {self.p(0.5):.0f} | "
            f"{self.p(0.99):.0f} | {self.errors} | {self.engine_ms:.1f} | {self.redis_ms:.2f} |"
        )


class Waiters:
    """Futures resolved when a fake platform receives a message for a given customer."""

    def __init__(self) -> None:
        self.pending: dict[str, asyncio.Future[float]] = {}

    def expect(self, key: str) -> asyncio.Future[float]:
        """Return a future for the next reply to ``key``."""
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self.pending[key] = future
        return future

    def hit(self, key: str) -> None:
        """Resolve the future for ``key`` with the arrival time."""
        future = self.pending.pop(key, None)
        if future is not None and not future.done():
            future.set_result(time.perf_counter())


def hook(fake: recorder.Recorder, method: str, key: Callable[[Call], str], waiters: Waiters) -> None:
    """Resolve waiters when ``fake`` records ``method``; keep no call log (it would grow without bound)."""

    def record(call: Call) -> None:
        if call.method == method:
            waiters.hit(key(call))

    fake.record = record  # type: ignore[method-assign]


async def engine(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    """Start ``python -m bot serve`` and wait until its model has loaded."""
    proc = subprocess.Popen(  # noqa: ASYNC220 (started once, before any measurement)
        [sys.executable, "-m", "bot", "serve", "--no-train", "--port", str(port)],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 300
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"engine exited with {proc.returncode}")
            try:
                async with session.get(f"http://127.0.0.1:{port}/healthz") as response:
                    if response.status == 200:
                        return proc
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.5)
    raise TimeoutError("engine not ready")


# Sends message i and returns the seconds from the webhook request to the reply (None: no reply).
Sender = Callable[[aiohttp.ClientSession, int, str], Awaitable[float | None]]


async def redis_cpu(redis: aioredis.Redis[str]) -> float:
    """Return the CPU seconds the Redis server has used (INFO cpu: any server, local or not)."""
    info = await redis.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


async def load(
    channel: str, rate: float, seconds: float, send: Sender, seed: int, costs: Costs | None = None
) -> Run:
    """Send ``rate × seconds`` messages open-loop and collect reply latencies (and costs, if given)."""
    rng = random.Random(seed)
    total = int(rate * seconds)
    latencies: list[float] = []
    errors = 0
    connector = aiohttp.TCPConnector(limit=0)
    used = await costs.read() if costs else (0.0, 0.0)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as session:
        start = time.perf_counter()

        async def one(i: int) -> None:
            nonlocal errors
            await asyncio.sleep(max(0.0, start + i / rate - time.perf_counter()))
            try:
                latency = await asyncio.wait_for(send(session, i, pick(rng)), seconds + DRAIN_SECONDS)
            except (asyncio.TimeoutError, aiohttp.ClientError) as exc:
                errors += 1
                print(f"{channel} message {i}: {type(exc).__name__} {exc}", file=sys.stderr, flush=True)
                return
            if latency is not None:
                latencies.append(latency)

        await asyncio.gather(*(one(i) for i in range(total)))
    run = Run(channel, rate, total, latencies, errors)
    if costs and total:
        engine, server = await costs.read()
        run.engine_ms, run.redis_ms = (engine - used[0]) * 1000 / total, (server - used[1]) * 1000 / total
    return run


@dataclass
class Costs:
    """Where the CPU figures come from: the engine's process tree and the Redis server."""

    engine_pid: int
    redis: aioredis.Redis[str]

    async def read(self) -> tuple[float, float]:
        """Return the CPU seconds used so far by the engine (all its workers) and by Redis."""
        return cpu_seconds([self.engine_pid]), await redis_cpu(self.redis)


def senders(port: int, waiters: Waiters, run_id: str) -> dict[str, Sender]:
    """Return, per channel, how to send message ``i`` and wait for its reply."""
    base = f"http://127.0.0.1:{port}"
    wecom_crypto = WecomCrypto(WC_TOKEN, WC_AES, WC_CORP)

    async def rest(session: aiohttp.ClientSession, i: int, text: str) -> float | None:
        began = time.perf_counter()
        async with session.post(
            f"{base}/webhooks/rest/webhook", json={"sender": f"{run_id}r{i}", "message": text}
        ) as r:
            await r.read()
            return time.perf_counter() - began if r.status == 200 else None

    async def telegram(session: aiohttp.ClientSession, i: int, text: str) -> float | None:
        chat = 10_000_000 + i + int(run_id[:6], 16) * 1000
        reply = waiters.expect(str(chat))
        user = {"id": chat, "is_bot": False, "first_name": "B", "language_code": "zh-hans"}
        update = {
            "update_id": chat,
            "message": {
                "message_id": i + 1,
                "from": user,
                "chat": {"id": chat, "type": "private"},
                "date": int(time.time()),
                "text": text,
            },
        }
        headers = {"X-Telegram-Bot-Api-Secret-Token": TG_SECRET}
        began = time.perf_counter()
        async with session.post(f"{base}/webhooks/telegram", json=update, headers=headers) as r:
            await r.read()
        return await reply - began

    async def wechat(session: aiohttp.ClientSession, i: int, text: str) -> float | None:
        openid = f"o{run_id}w{i}"
        reply = waiters.expect(openid)
        ts, nonce = str(int(time.time())), uuid.uuid4().hex[:8]
        xml = (
            f"<xml><ToUserName><![CDATA[gh_bench]]></ToUserName><FromUserName><![CDATA[{openid}]]></FromUserName>"
            f"<CreateTime>{ts}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
            f"<Content><![CDATA[{text}]]></Content><MsgId>{uuid.uuid4().int % 10**18}</MsgId></xml>"
        )
        query = {"timestamp": ts, "nonce": nonce, "signature": signature(WX_TOKEN, ts, nonce)}
        began = time.perf_counter()
        async with session.post(f"{base}/webhooks/wechat", params=query, data=xml.encode()) as r:
            body = await r.text()
        if body.strip() not in ("", "success"):
            waiters.pending.pop(openid, None)
            return time.perf_counter() - began  # passive reply
        return await reply - began

    fake_wecom: FakeWecom = FAKES["wecom"]

    async def wecom(session: aiohttp.ClientSession, i: int, text: str) -> float | None:
        user = f"wm{run_id}c{i}"
        reply = waiters.expect(user)
        ts, nonce = str(int(time.time())), uuid.uuid4().hex[:8]
        event = (
            f"<xml><ToUserName><![CDATA[{WC_CORP}]]></ToUserName><CreateTime>{ts}</CreateTime>"
            "<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[kf_msg_or_event]]></Event>"
            f"<Token><![CDATA[t{i}]]></Token><OpenKfId><![CDATA[{WC_KF}]]></OpenKfId></xml>"
        )
        envelope = wecom_crypto.encrypt_message(event, nonce, ts)
        query = {
            "msg_signature": xmltodict.parse(envelope)["xml"]["MsgSignature"],
            "timestamp": ts,
            "nonce": nonce,
        }
        began = time.perf_counter()
        fake_wecom.customer_says(user, text)
        async with session.post(f"{base}/webhooks/wecom", params=query, data=envelope.encode()) as r:
            await r.read()
        return await reply - began

    async def webchat(session: aiohttp.ClientSession, i: int, text: str) -> float | None:
        async with session.ws_connect(f"{base}/webchat/ws", headers={"Origin": base}) as ws:
            await ws.send_json({"type": "hello"})
            while (await ws.receive_json()).get("type") != "ready":
                pass
            began = time.perf_counter()
            await ws.send_json({"type": "message", "id": uuid.uuid4().hex, "text": text})
            while True:
                frame = await ws.receive_json()
                if frame.get("type") == "message" and frame.get("role") != "customer":
                    return time.perf_counter() - began

    return {"rest": rest, "telegram": telegram, "wechat": wechat, "wecom": wecom, "webchat": webchat}


FAKES: dict[str, Any] = {}


async def drain(redis: aioredis.Redis[str], prefix: str, port: int, limit: float = 600) -> None:
    """Wait until the engine has no queued messages and answers a REST message within a second."""
    deadline = time.monotonic() + limit
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            if await redis.zcard(f"{prefix}:inq:active") == 0:
                began = time.perf_counter()
                body = {"sender": f"probe{uuid.uuid4().hex[:6]}", "message": "你好"}
                async with session.post(f"http://127.0.0.1:{port}/webhooks/rest/webhook", json=body) as r:
                    await r.read()
                if time.perf_counter() - began < 1.0:
                    return
            await asyncio.sleep(1.0)
    raise TimeoutError("the engine did not drain")


async def main() -> None:
    """Run the benchmark and print Markdown rows."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--seconds", type=float, default=10, help="length of each sweep run")
    parser.add_argument("--burst", type=float, default=5, help="length of the run at --rate")
    parser.add_argument("--sweep", default="10,20,30,40,60")
    parser.add_argument("--channels", default="rest,telegram,wechat,wecom,webchat")
    args = parser.parse_args()
    model = ensure_model(PROJECT_ROOT / "var" / "models")
    waiters = Waiters()
    FAKES["telegram"] = FakeTelegram(TG_TOKEN)
    FAKES["wechat"] = FakeWechat(WX_APP, WX_SECRET)
    FAKES["wecom"] = FakeWecom(WC_CORP, WC_SECRET, WC_KF)
    servers = {name: await recorder.start(fake.app()) for name, fake in FAKES.items()}
    hook(FAKES["telegram"], "sendMessage", lambda c: str(c.params.get("chat_id")), waiters)
    hook(FAKES["wechat"], "custom_send", lambda c: str(c.params.get("touser")), waiters)
    hook(FAKES["wecom"], "send_msg", lambda c: str(c.params.get("touser")), waiters)
    port = free_port()
    prefix = "bench" + uuid.uuid4().hex[:8]
    env = {
        **os.environ,
        "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        "REDIS_PREFIX": prefix,
        "MODEL_DIR": str(model.parent),
        "LOG_LEVEL": "WARNING",
        "RASA_TELEMETRY_ENABLED": "false",
        "PYTHONPATH": str(PROJECT_ROOT),
        "TELEGRAM_BOT_TOKEN": TG_TOKEN,
        "TELEGRAM_WEBHOOK_SECRET": TG_SECRET,
        "TELEGRAM_API_BASE_URL": servers["telegram"][1],
        "WECHAT_TOKEN": WX_TOKEN,
        "WECHAT_APP_ID": WX_APP,
        "WECHAT_APP_SECRET": WX_SECRET,
        "WECHAT_API_BASE_URL": servers["wechat"][1],
        "WECOM_CORP_ID": WC_CORP,
        "WECOM_SECRET": WC_SECRET,
        "WECOM_TOKEN": WC_TOKEN,
        "WECOM_AES_KEY": WC_AES,
        "WECOM_OPEN_KFID": WC_KF,
        "WECOM_API_BASE_URL": servers["wecom"][1],
    }
    proc = await engine(env, port)
    redis = aioredis.Redis.from_url(env["REDIS_URL"], decode_responses=True)
    costs = Costs(proc.pid, redis)
    rows: list[str] = []
    print(
        "| channel | msgs/s | sent | replied | p50 ms | p99 ms | errors "
        "| engine CPU ms/msg | Redis CPU ms/msg |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    try:
        for channel in args.channels.split(","):
            send = senders(port, waiters, uuid.uuid4().hex[:8])[channel]
            await load(channel, 5, 2, send, seed=0)  # warm-up (first turns load Rasa's lazy parts)
            await drain(redis, prefix, port)
            # Rising rates until p99 passes 1 s; each run starts from an idle engine.
            best = 0.0
            for rate in (float(r) for r in args.sweep.split(",")):
                send = senders(port, waiters, uuid.uuid4().hex[:8])[channel]
                run = await load(channel, rate, args.seconds, send, seed=2, costs=costs)
                print(run.line(), flush=True)
                rows.append(run.line())
                await drain(redis, prefix, port)
                if run.p(0.99) <= 1000 and run.errors == 0:
                    best = rate
                else:
                    break
            print(f"{channel}: highest rate tried with p99 <= 1 s: {best:.0f} msgs/s", flush=True)
            # Then the fixed rate of the target, for a shorter burst (its backlog must drain before the next).
            send = senders(port, waiters, uuid.uuid4().hex[:8])[channel]
            fixed = await load(channel, args.rate, args.burst, send, seed=1, costs=costs)
            print(fixed.line(), flush=True)
            rows.append(fixed.line())
            await drain(redis, prefix, port)
    finally:
        await redis.close()
        proc.terminate()
        proc.wait(timeout=30)
        for server, _ in servers.values():
            await server.close()
    print(json.dumps({"rows": rows}, ensure_ascii=False))


if __name__ == "__main__":
    asyncio.run(main())
