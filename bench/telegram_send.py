"""CPU per Bot API call: PTB's own httpx transport against the engine's aiohttp one, in one command.

    python -m bench.telegram_send [--calls 2000] [--concurrency 25] [--rounds 3]

A local fake Bot API (``tests.fakes.telegram``) runs in a child process, so only the client's CPU is
counted. Each round sends ``--calls`` ``sendMessage`` calls (a Chinese line with an inline keyboard, as
the bot's replies carry) through a real ``telegram.Bot``, ``--concurrency`` at a time, once per
transport, alternating; the figure is this process's CPU time (user + system) per call.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time

import aiohttp
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.request import BaseRequest, HTTPXRequest

from bench.load_rest import free_port
from bot.settings import PROJECT_ROOT
from channels.telegram_http import AiohttpRequest

TOKEN = "123456:bench"
FAKE = """
import sys
from aiohttp import web
from tests.fakes.telegram import FakeTelegram
fake = FakeTelegram(sys.argv[1])
fake.record = lambda call: None  # keep nothing: the bench sends thousands of calls
web.run_app(fake.app(), host="127.0.0.1", port=int(sys.argv[2]), print=None)
"""


async def ready(url: str) -> None:
    """Wait until the fake answers."""
    async with aiohttp.ClientSession() as session:
        for _ in range(100):
            try:
                async with session.post(f"{url}/bot{TOKEN}/getMe") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise TimeoutError("fake Bot API not ready")


async def one_round(base: str, request: BaseRequest, calls: int, concurrency: int) -> float:
    """Send ``calls`` messages through ``request``; return CPU ms per call."""
    bot = Bot(TOKEN, base_url=f"{base}/bot", request=request)
    await request.initialize()
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("转人工", callback_data="p1")]])
    gate = asyncio.Semaphore(concurrency)

    async def send(i: int) -> None:
        async with gate:
            text = f"您的订单 {i} 已发货，预计明天送达。"
            await bot.send_message(10_000 + i % 500, text, reply_markup=keyboard)

    await asyncio.gather(*(send(i) for i in range(concurrency * 2)))  # warm connections
    began = time.process_time()
    await asyncio.gather(*(send(i) for i in range(calls)))
    spent = time.process_time() - began
    await request.shutdown()
    return spent / calls * 1000


async def main() -> None:
    """Run the rounds and print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=25)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    port = free_port()
    fake = subprocess.Popen([sys.executable, "-c", FAKE, TOKEN, str(port)], cwd=PROJECT_ROOT)  # noqa: ASYNC220
    base = f"http://127.0.0.1:{port}"
    try:
        await ready(base)
        print("| round | httpx (PTB's default) ms CPU/call | aiohttp (engine) ms CPU/call | ratio |")
        print("|---|---:|---:|---:|")
        for n in range(1, args.rounds + 1):
            httpx = HTTPXRequest(connection_pool_size=256)  # what PTB's ApplicationBuilder makes
            theirs = await one_round(base, httpx, args.calls, args.concurrency)
            ours = await one_round(base, AiohttpRequest(), args.calls, args.concurrency)
            print(f"| {n} | {theirs:.3f} | {ours:.3f} | {theirs / ours:.1f}× |", flush=True)
    finally:
        fake.terminate()
        fake.wait()


if __name__ == "__main__":
    asyncio.run(main())
