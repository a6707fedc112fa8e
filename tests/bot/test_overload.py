"""Overload on a real engine process: webhooks keep their deadline, the backlog is bounded, nothing is lost.

One `python -m bot serve` with a low `INBOUND_BACKLOG_LIMIT` gets Telegram updates open-loop at about
twice what it answers. The webhook must acknowledge every update within the platforms' deadline (5 s,
WeChat's: a slower answer is retried and arrives twice), refuse new conversations with 503 +
`Retry-After` once the limit is reached (the platform's retry brings them back), and, once the load
stops, answer every customer's every question, in order. The figures of longer runs are in RESULTS.md.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest_asyncio

from bot.settings import PROJECT_ROOT
from tests.bot.test_faults import QUESTIONS, Engine, faq_answers, reached
from tests.channels.conftest import TELEGRAM_SECRET, TELEGRAM_TOKEN, new_id
from tests.channels.test_telegram import HEADERS, update
from tests.fakes import recorder
from tests.fakes.telegram import FakeTelegram
from tests.processes import free_port

RATE = 60.0
SECONDS = 8.0
BACKLOG_LIMIT = 20
DEADLINE_SECONDS = 5.0


@pytest_asyncio.fixture
async def overloaded(
    trained_model: object, redis_url: str, key_prefix: str, tmp_path: Path
) -> AsyncIterator[tuple[Engine, FakeTelegram]]:
    telegram = FakeTelegram(TELEGRAM_TOKEN)
    server, telegram_url = await recorder.start(telegram.app())
    env = {
        **os.environ,
        "REDIS_URL": redis_url,
        "REDIS_PREFIX": key_prefix + "ov" + uuid.uuid4().hex[:4],
        "HOST": "127.0.0.1",
        "PORT": str(free_port()),
        "VAR_DIR": str(tmp_path),
        "MODEL_DIR": str(PROJECT_ROOT / "var" / "models"),
        "LOG_LEVEL": "ERROR",
        "TELEGRAM_BOT_TOKEN": TELEGRAM_TOKEN,
        "TELEGRAM_WEBHOOK_SECRET": TELEGRAM_SECRET,
        "TELEGRAM_API_BASE_URL": telegram_url,
        "INBOUND_BACKLOG_LIMIT": str(BACKLOG_LIMIT),
    }
    engine = Engine("overloaded", int(env["PORT"]), env, tmp_path / "engine.log")
    try:
        await engine.start()
        await engine.healthy()
        yield engine, telegram
    finally:
        await engine.stop()
        await server.close()


async def test_an_overloaded_engine_keeps_the_webhook_deadline_and_answers_everyone_in_order(
    overloaded: tuple[Engine, FakeTelegram],
) -> None:
    engine, telegram = overloaded
    total = int(RATE * SECONDS)
    chats = [new_id() for _ in range(total // len(QUESTIONS))]
    acks: list[float] = []
    refusals: list[str] = []

    async def deliver(
        http: aiohttp.ClientSession, body: dict[str, object], before: asyncio.Task[None] | None
    ) -> None:
        # The platform keeps one chat's updates in order: the next goes once the one before is taken.
        if before is not None:
            await before
        while True:
            began = time.monotonic()
            async with http.post(engine.url + "/webhooks/telegram", json=body, headers=HEADERS) as response:
                acks.append(time.monotonic() - began)
                if response.status == 200:
                    return
                assert response.status == 503, await response.text()
                refusals.append(response.headers["Retry-After"])
            await asyncio.sleep(float(refusals[-1]))

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        started = time.monotonic()
        last: dict[int, asyncio.Task[None]] = {}
        for i in range(total):
            await asyncio.sleep(max(0.0, started + i / RATE - time.monotonic()))
            # Customer i % n asks question i // n: each customer's questions in order, spread over the run.
            chat = chats[i % len(chats)]
            body = update("text_message", chat, text=QUESTIONS[i // len(chats)])
            last[chat] = asyncio.create_task(deliver(http, body, last.get(chat)))
        await asyncio.gather(*last.values())
    await telegram.wait_for("sendMessage", count=total, timeout=300)

    assert max(acks) < DEADLINE_SECONDS, f"slowest acknowledgement {max(acks):.2f} s"
    assert refusals, "the backlog limit was reached and said so"
    answers = [faq_answers()[q] for q in QUESTIONS]
    for chat in chats:
        sent = [str(c.params.get("text", "")) for c in telegram.of("sendMessage", reached(chat))]
        assert len(sent) == len(QUESTIONS)
        assert all(answer in text for answer, text in zip(answers, sent, strict=True)), sent
