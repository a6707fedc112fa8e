"""An engine with every push channel switched on, each pointed at a local fake of its platform."""

from __future__ import annotations

import asyncio
import copy
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest_asyncio
from aiohttp.test_utils import TestClient

from bot.appkeys import CHANNELS
from channels.config import TelegramConfig, WechatConfig, WecomConfig
from channels.telegram import TelegramChannel
from tests.conftest import EngineFactory
from tests.fakes import recorder
from tests.fakes.telegram import FakeTelegram
from tests.fakes.wechat import FakeWechat
from tests.fakes.wecom import FakeWecom

PAYLOADS = Path(__file__).resolve().parent.parent / "payloads"
TELEGRAM_TOKEN = "7000001:AAHtestTOKENfor-local-fake_server01"
TELEGRAM_SECRET = "tg-webhook-secret_0123456789"
TELEGRAM_WEBHOOK_URL = "https://support.example.com/webhooks/telegram"
WECHAT_TOKEN = "wxTokenForTests2026"
WECHAT_APP_ID = "wx5d1c3a9e7f20b468"
WECHAT_SECRET = "3c9f0e1d2b7a4c6e8f1a2b3c4d5e6f70"
WECHAT_AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
WECOM_CORP_ID = "ww2c8f0d3b1e6a9475"
WECOM_SECRET = "kfSecretForLocalTests-0123456789abcdef"
WECOM_TOKEN = "wecomCallbackToken2026"
WECOM_AES_KEY = "ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210zyxwvut"
WECOM_KFID = "wkAJ2GCAAASSm4_FhToWMFea0xAFfd3Q"


def payload(name: str) -> Any:
    """Return a deep copy of a recorded platform payload from ``tests/payloads``."""
    return copy.deepcopy(json.loads((PAYLOADS / name).read_text(encoding="utf-8")))


@pytest_asyncio.fixture(scope="session")
async def fake_telegram() -> AsyncIterator[FakeTelegram]:
    """A Telegram Bot API on a local port."""
    fake = FakeTelegram(TELEGRAM_TOKEN)
    server, url = await recorder.start(fake.app())
    fake.url = url  # type: ignore[attr-defined]
    yield fake
    await server.close()


@pytest_asyncio.fixture(scope="session")
async def fake_wechat() -> AsyncIterator[FakeWechat]:
    """A WeChat Official Account API on a local port."""
    fake = FakeWechat(WECHAT_APP_ID, WECHAT_SECRET)
    server, url = await recorder.start(fake.app())
    fake.url = url  # type: ignore[attr-defined]
    yield fake
    await server.close()


@pytest_asyncio.fixture(scope="session")
async def fake_wecom() -> AsyncIterator[FakeWecom]:
    """A WeCom customer-service API on a local port."""
    fake = FakeWecom(WECOM_CORP_ID, WECOM_SECRET, WECOM_KFID)
    server, url = await recorder.start(fake.app())
    fake.url = url  # type: ignore[attr-defined]
    yield fake
    await server.close()


@pytest_asyncio.fixture(scope="session")
async def channels_engine(
    trained_model: object,
    start_engine: EngineFactory,
    key_prefix: str,
    fake_telegram: FakeTelegram,
    fake_wechat: FakeWechat,
    fake_wecom: FakeWecom,
) -> TestClient:
    """An instance with Telegram (webhook mode), WeChat and WeCom on a key prefix of its own."""
    telegram = TelegramConfig(
        token=TELEGRAM_TOKEN,
        webhook_secret=TELEGRAM_SECRET,
        api_base_url=fake_telegram.url,  # type: ignore[attr-defined]
        webhook_url=TELEGRAM_WEBHOOK_URL,
    )
    wechat = WechatConfig(
        token=WECHAT_TOKEN,
        app_id=WECHAT_APP_ID,
        app_secret=WECHAT_SECRET,
        aes_key=WECHAT_AES_KEY,
        api_base_url=fake_wechat.url,  # type: ignore[attr-defined]
    )
    wecom = WecomConfig(
        corp_id=WECOM_CORP_ID,
        secret=WECOM_SECRET,
        token=WECOM_TOKEN,
        aes_key=WECOM_AES_KEY,
        open_kfid=WECOM_KFID,
        api_base_url=fake_wecom.url,  # type: ignore[attr-defined]
        servicers=(("ann", "zhangsan"),),
    )
    client = await start_engine(
        instance_id="channels", redis_prefix=key_prefix + "ch", telegram=telegram, wechat=wechat, wecom=wecom
    )
    channel = next(c for c in client.app[CHANNELS] if isinstance(c, TelegramChannel))
    await asyncio.wait_for(channel.ready.wait(), 20)
    return client


def new_id() -> int:
    """A fresh positive id (chat, user, update) so each test has its own conversation."""
    return uuid.uuid4().int % 2_000_000_000 + 1
