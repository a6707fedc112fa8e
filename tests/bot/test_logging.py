"""Structured logs: one JSON object per line, no message bodies at INFO."""

from __future__ import annotations

import json
import logging

import pytest
from aiohttp.test_utils import TestClient

from bot.logging_setup import JsonFormatter
from tests.conftest import say


def test_json_formatter_writes_one_object_with_extras() -> None:
    record = logging.makeLogRecord(
        {
            "name": "bot.x",
            "levelno": logging.INFO,
            "levelname": "INFO",
            "msg": "hi %s",
            "args": ("there",),
            "conversation": "rest:1",
        }
    )
    line = JsonFormatter().format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["msg"] == "hi there"
    assert entry["conversation"] == "rest:1"
    assert entry["level"] == "INFO"


async def test_info_logs_carry_no_message_text(
    engine: TestClient, sender: str, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "我的手机号是13800138000"
    with caplog.at_level(logging.INFO):
        await say(engine, sender, secret)
    info = [r for r in caplog.records if r.levelno >= logging.INFO]
    assert info, "expected INFO logs about the turn"
    formatted = [JsonFormatter().format(r) for r in info]
    assert not any("13800138000" in line for line in formatted)
