"""Personal data is masked on every way out that does not need it: log lines (text and JSON), the inbox."""

from __future__ import annotations

import json
import logging
import uuid

import pytest
import redis.asyncio as aioredis

from bot.logging_setup import JsonFormatter, TextFormatter
from core.privacy import mask_personal
from knowledge_base.store import KnowledgeStore

# (what a customer might write, what must not survive, what must be left of it)
KINDS = [
    ("我的手机号13800138000收不到验证码", "13800138000", "138******00"),
    ("call me on +86 138-0013-8000", "0013-8000", "**00"),
    ("座机 010-62345678", "62345678", "010-******78"),
    ("身份证 11010119900307757X", "19900307757", "110*************7X"),
    ("卡号 6222 0212 3456 7894 扣款失败", "0212 3456", "**** **** **** 7894"),
    ("card 6228480012345678903", "6228480012345678903", "***************8903"),
    ("我的邮箱 zhang.san@example.com.cn", "zhang.san@", "z***@example.com.cn"),
]


@pytest.mark.parametrize(("text", "secret", "left"), KINDS)
def test_each_kind_is_masked_and_its_ends_kept(text: str, secret: str, left: str) -> None:
    masked = mask_personal(text)
    assert secret not in masked
    assert left in masked


def test_numbers_that_are_not_personal_stay_readable() -> None:
    line = "ts 2026-12-01 21:47:27,915 at_ms=1764625647915 id 1764625647915-0 order 20261201123456"
    assert mask_personal(line) == line
    assert mask_personal("4111111111111112") == "4111111111111112", "fails the Luhn check: no card"


@pytest.mark.parametrize(("text", "secret", "left"), KINDS)
def test_log_lines_never_carry_it_in_the_message_extras_or_traceback(
    text: str, secret: str, left: str
) -> None:
    try:
        raise ValueError(f"could not parse {text}")
    except ValueError as exc:
        record = logging.LogRecord("t", logging.INFO, __file__, 1, "customer said %s", (text,), None)
        record.exc_info = (type(exc), exc, exc.__traceback__)
    record.text = text  # an extra, as `log.info(..., extra={"text": text})` passes it
    for formatter in (TextFormatter("%(levelname)s %(name)s: %(message)s"), JsonFormatter()):
        line = formatter.format(record)
        assert secret not in line, type(formatter).__name__
        assert left in line
    json.loads(JsonFormatter().format(record))  # still one valid JSON object


async def test_the_unanswered_questions_inbox_masks_every_kind(
    redis_client: aioredis.Redis, key_prefix: str
) -> None:
    store = KnowledgeStore(redis_client, key_prefix + "pv" + uuid.uuid4().hex[:6])
    for text, _, _ in KINDS:
        await store.record_unanswered(text, text, "zh-CN", "escalated")
    inbox = await store.inbox()
    assert len(inbox) == len(KINDS)
    shown = json.dumps(inbox, ensure_ascii=False)
    for _, secret, _ in KINDS:
        assert secret not in shown
