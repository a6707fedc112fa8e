"""Telegram end to end: real PTB objects, the real engine and model, a local fake of the Bot API."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.appkeys import CHANNELS, OUTBOX
from channels.config import TelegramConfig
from channels.telegram import TelegramChannel
from core.messages import Inbound, Outbound
from core.ports import Core, Mailboxes, Passive, Submitted
from handoff.complaints import Status
from handoff.web.appkeys import DELIVER, SERVICE, SIGNOFF, TRANSCRIPTS
from tests.channels.conftest import TELEGRAM_SECRET, TELEGRAM_TOKEN, TELEGRAM_WEBHOOK_URL, new_id, payload
from tests.fakes.recorder import Call
from tests.fakes.telegram import FakeTelegram

HEADERS = {"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET}


def update(name: str, chat: int, update_id: int | None = None, **fields: Any) -> dict[str, Any]:
    """A recorded update re-addressed to ``chat``, with a fresh ``update_id`` unless given."""
    body = payload(f"telegram/{name}.json")
    body["update_id"] = update_id if update_id is not None else new_id()
    message = body.get("message") or body["callback_query"]["message"]
    message["chat"]["id"] = chat
    (body.get("message") or body["callback_query"])["from"]["id"] = chat
    target = body.get("message") or body["callback_query"]
    target.update(fields)
    return body


def to(chat: int) -> Any:
    """Match Bot API calls addressed to ``chat``."""
    return lambda call: int(call.params.get("chat_id", 0)) == chat


async def post(engine: TestClient, body: Any, headers: dict[str, str] = HEADERS) -> int:
    """Deliver an update as Telegram does; return the status (answered before any handling)."""
    started = time.perf_counter()
    response = await engine.post("/webhooks/telegram", json=body, headers=headers)
    elapsed = time.perf_counter() - started
    # A loose bound, WeChat's deadline: the webhook answers before the platform gives up and retries.
    assert elapsed < 5, f"the webhook took {elapsed:.2f} s to acknowledge"
    return response.status


async def test_text_is_answered_through_send_message_and_a_redelivery_changes_nothing(
    channels_engine: TestClient, fake_telegram: FakeTelegram
) -> None:
    chat = new_id()
    first = update("text_message", chat, text="退款多久到账")
    assert await post(channels_engine, first) == 200
    answers = await fake_telegram.wait_for("sendMessage", to(chat))
    assert "到账" in answers[0].params["text"]
    # Telegram re-delivers the same update_id after an error on its side: no second answer. The
    # next message's answer arrives after anything the duplicate could have caused (order is kept).
    assert await post(channels_engine, first) == 200
    assert await post(channels_engine, update("text_message", chat, text="谢谢")) == 200
    answers = await fake_telegram.wait_for("sendMessage", to(chat), count=2)
    await asyncio.sleep(0)  # let any stray third send land before counting
    assert len(fake_telegram.of("sendMessage", to(chat))) == 2
    assert "不客气" in answers[1].params["text"]
    lines = await channels_engine.app[TRANSCRIPTS].read(f"telegram:{chat}")
    assert [x.text for x in lines if x.role == "customer"] == ["退款多久到账", "谢谢"]


async def test_start_gets_the_welcome_and_a_photo_caption_is_read(
    channels_engine: TestClient, fake_telegram: FakeTelegram
) -> None:
    chat = new_id()
    assert await post(channels_engine, update("start_command", chat)) == 200
    welcome = await fake_telegram.wait_for("sendMessage", to(chat))
    assert "智能客服" in welcome[0].params["text"]
    assert await post(channels_engine, update("photo_with_caption", chat)) == 200
    await fake_telegram.wait_for("sendMessage", to(chat), count=2)
    lines = await channels_engine.app[TRANSCRIPTS].read(f"telegram:{chat}")
    assert [x.text for x in lines if x.role == "customer"][-1] == "包裹破损了"


async def test_the_webhook_is_registered_with_its_secret(
    fake_telegram: FakeTelegram, channels_engine: TestClient
) -> None:
    (registered,) = fake_telegram.of("setWebhook")
    assert registered.params["url"] == TELEGRAM_WEBHOOK_URL
    assert registered.params["secret_token"] == TELEGRAM_SECRET
    assert registered.params["allowed_updates"] == ["message", "callback_query"]


async def test_an_image_goes_out_as_a_photo_with_its_caption(
    channels_engine: TestClient, fake_telegram: FakeTelegram
) -> None:
    channel = next(c for c in channels_engine.app[CHANNELS] if c.name == "telegram")
    chat = new_id()
    image = "https://cdn.example.com/faq/return-label.png"
    await channel.send(Outbound(str(chat), "退货标签这样填写", image_url=image))
    (photo,) = fake_telegram.of("sendPhoto", to(chat))
    assert photo.params["photo"] == image
    assert photo.params["caption"] == "退货标签这样填写"


async def test_a_wrong_or_missing_secret_is_refused_and_nothing_is_handled(
    channels_engine: TestClient, fake_telegram: FakeTelegram
) -> None:
    chat = new_id()
    body = update("text_message", chat, text="hello")
    assert await post(channels_engine, body, headers={}) == 403
    assert await post(channels_engine, body, headers={"X-Telegram-Bot-Api-Secret-Token": "nope"}) == 403
    # The same update with the right secret is then taken in (the refused ones left no dedup mark).
    assert await post(channels_engine, body) == 200
    await fake_telegram.wait_for("sendMessage", to(chat))
    lines = await channels_engine.app[TRANSCRIPTS].read(f"telegram:{chat}")
    assert [x.text for x in lines if x.role == "customer"] == ["hello"]


async def test_malformed_bodies_get_clear_errors_and_the_worker_survives(
    channels_engine: TestClient, fake_telegram: FakeTelegram
) -> None:
    webhook = "/webhooks/telegram"
    broken = await channels_engine.post(webhook, data=b'{"update_id": 1, "message": {', headers=HEADERS)
    assert broken.status == 400
    wrong_type = await channels_engine.post(webhook, json={"update_id": "7"}, headers=HEADERS)
    assert wrong_type.status == 400
    not_object = await channels_engine.post(webhook, json=[1, 2], headers=HEADERS)
    assert not_object.status == 400
    chat = new_id()
    bad_message = update("text_message", chat)
    bad_message["message"]["chat"] = "not a chat"
    assert (await channels_engine.post(webhook, json=bad_message, headers=HEADERS)).status == 400
    huge = await channels_engine.post(webhook, data=b"x" * (1024 * 1024), headers=HEADERS)
    assert huge.status == 413
    assert await post(channels_engine, update("text_message", chat, text="你好")) == 200
    await fake_telegram.wait_for("sendMessage", to(chat))


async def test_buttons_become_an_inline_keyboard_and_a_tap_comes_back_as_its_payload(
    channels_engine: TestClient, fake_telegram: FakeTelegram
) -> None:
    chat = new_id()
    conversation = f"telegram:{chat}"
    # Longer than Telegram's 64-byte callback_data: the channel keeps it under a short key.
    long_payload = "请问我想申请退款应该怎么操作呢，需要多长时间才能到账呢"
    buttons = [("申请退款", long_payload), ("满意", "满意")]
    await channels_engine.app[DELIVER](conversation, "请选择", "", buttons)
    sent = (await fake_telegram.wait_for("sendMessage", to(chat)))[0]
    keyboard = sent.params["reply_markup"]["inline_keyboard"]
    assert [row[0]["text"] for row in keyboard] == ["申请退款", "满意"]
    data = keyboard[0][0]["callback_data"]
    assert len(data.encode()) <= 64
    assert data != long_payload
    assert keyboard[1][0]["callback_data"] == "满意"

    tap = update("callback_query", chat)
    tap["callback_query"]["data"] = data
    assert await post(channels_engine, tap) == 200
    answered = await fake_telegram.wait_for("answerCallbackQuery")
    assert str(answered[-1].params["callback_query_id"]) == tap["callback_query"]["id"]
    await fake_telegram.wait_for("sendMessage", to(chat), count=2)
    lines = await channels_engine.app[TRANSCRIPTS].read(conversation)
    assert [x.text for x in lines if x.role == "customer"] == [long_payload]


async def test_a_5xx_is_retried_until_delivered_and_a_block_is_shown_to_the_agent(
    channels_engine: TestClient, fake_telegram: FakeTelegram
) -> None:
    outbox = channels_engine.app[OUTBOX]
    deliver = channels_engine.app[DELIVER]
    chat = new_id()
    conversation = f"telegram:{chat}"
    fake_telegram.fail_next(
        "sendMessage", 502, {"ok": False, "error_code": 502, "description": "Bad Gateway"}, times=2
    )
    await deliver(conversation, "您好，我是客服小王", "ann")
    await outbox.idle()
    assert len(fake_telegram.of("sendMessage", to(chat))) == 3
    (record,) = await outbox.deliveries(conversation)
    assert record["status"] == "delivered"
    assert record["attempts"] == 3

    blocked = {"ok": False, "error_code": 403, "description": "Forbidden: bot was blocked by the user"}
    fake_telegram.fail_next("sendMessage", 403, blocked)
    await deliver(conversation, "还在吗？", "ann")
    await outbox.idle()
    records = await outbox.deliveries(conversation)
    assert records[-1]["status"] == "failed"
    assert records[-1]["attempts"] == 1
    assert "blocked" in str(records[-1]["reason"])
    lines = await channels_engine.app[TRANSCRIPTS].read(conversation)
    assert lines[-1].role == "system"
    assert "未送达" in lines[-1].text
    assert "还在吗" in lines[-1].text


async def test_rate_limits_wait_for_retry_after(
    channels_engine: TestClient, fake_telegram: FakeTelegram
) -> None:
    outbox = channels_engine.app[OUTBOX]
    chat = new_id()
    limited = {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests",
        "parameters": {"retry_after": 1},
    }
    fake_telegram.fail_next("sendMessage", 429, limited)
    started = time.monotonic()
    await channels_engine.app[DELIVER](f"telegram:{chat}", "稍等", "ann")
    await outbox.idle()
    assert time.monotonic() - started >= 1.0
    (record,) = await outbox.deliveries(f"telegram:{chat}")
    assert record["status"] == "delivered"
    assert record["attempts"] == 2


class NoStore:
    async def get(self, key: str) -> str | None:
        return None

    async def put(self, key: str, value: str, ttl_seconds: float | None = None) -> None:
        return None

    async def add(self, key: str, value: str, ttl_seconds: float) -> bool:
        return True

    async def delete(self, key: str) -> None:
        return None

    async def release(self, key: str, value: str) -> bool:
        return True


def no_mailboxes(name: str) -> Mailboxes:
    raise AssertionError("Telegram keeps no mailboxes")


async def test_polling_mode_feeds_updates_through_ptb(fake_telegram: FakeTelegram) -> None:
    received: list[Inbound] = []
    got = asyncio.Event()

    async def submit(
        inbound: Inbound, *, wait_reply: float = 0.0, passive: Passive | None = None
    ) -> Submitted:
        received.append(inbound)
        got.set()
        return Submitted(duplicate=False)

    async def on_message(inbound: Inbound, reply: object) -> None:
        raise AssertionError("polling hands messages to submit, never to on_message")

    config = TelegramConfig(token=TELEGRAM_TOKEN, api_base_url=fake_telegram.url, mode="polling")  # type: ignore[attr-defined]
    channel = TelegramChannel(config)
    app = web.Application()
    channel.register(
        app, Core(on_message=on_message, submit=submit, store=lambda name: NoStore(), mailboxes=no_mailboxes)
    )
    server = TestServer(app)
    await server.start_server()
    try:
        await asyncio.wait_for(channel.ready.wait(), 20)
        chat = new_id()
        await fake_telegram.updates.put(update("text_message", chat, text="where is my parcel"))
        await asyncio.wait_for(got.wait(), 20)
    finally:
        await server.close()
    assert received[0].text == "where is my parcel"
    assert received[0].sender_id == str(chat)
    assert received[0].metadata["language"] == "zh-hans"
    assert any(c.method == "getUpdates" for c in fake_telegram.calls if isinstance(c, Call))


async def test_a_platform_that_stays_down_ends_in_a_failed_delivery_the_agent_sees(
    channels_engine: TestClient, fake_telegram: FakeTelegram, monkeypatch: pytest.MonkeyPatch
) -> None:
    outbox = channels_engine.app[OUTBOX]
    monkeypatch.setattr(outbox, "delays", (0.01, 0.01, 0.01, 0.01))
    chat = new_id()
    down = {"ok": False, "error_code": 500, "description": "Internal Server Error"}
    fake_telegram.fail_next("sendMessage", 500, down, times=5)
    await channels_engine.app[DELIVER](f"telegram:{chat}", "订单已发货", "ann")
    await outbox.idle()
    assert len(fake_telegram.of("sendMessage", to(chat))) == 5
    (record,) = await outbox.deliveries(f"telegram:{chat}")
    assert record["status"] == "failed"
    assert record["attempts"] == 5
    lines = await channels_engine.app[TRANSCRIPTS].read(f"telegram:{chat}")
    assert "未送达" in lines[-1].text


async def test_a_resolved_complaint_is_signed_off_with_the_inline_keyboard(
    channels_engine: TestClient, fake_telegram: FakeTelegram
) -> None:
    chat = new_id()
    conversation = f"telegram:{chat}"
    cases = channels_engine.app[SERVICE].complaints
    assert cases is not None
    case, _ = await cases.open(
        conversation, conversation, "订单少发一件", channel="telegram", team="support", actor="agent:ann"
    )
    resolved = await cases.move(case.id, Status.RESOLVED, "agent:ann", "已补发")
    await channels_engine.app[SIGNOFF].ask(resolved, "已补发")
    sent = (await fake_telegram.wait_for("sendMessage", to(chat)))[0]
    assert case.id in sent.params["text"]
    keyboard = sent.params["reply_markup"]["inline_keyboard"]
    assert [row[0]["text"] for row in keyboard] == ["已解决", "未解决"]

    for _ in range(2):  # the customer taps 已解决 twice: the second tap changes nothing
        tap = update("callback_query", chat)
        tap["callback_query"]["data"] = keyboard[0][0]["callback_data"]
        assert await post(channels_engine, tap) == 200
    replies = await fake_telegram.wait_for("sendMessage", to(chat), count=3)
    assert "已关闭" in replies[1].params["text"]
    assert "无需再次确认" in replies[2].params["text"]
    history = [change.action for change in await cases.history(case.id)]
    assert history == ["opened", "resolved", "confirmed"]


async def test_a_start_that_fails_unexpectedly_is_logged_shown_in_health_and_retried(
    fake_telegram: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="channels.telegram")
    # A getMe answer PTB cannot parse: no Bot API error, so no TelegramError either.
    fake_telegram.fail_next("getMe", 200, {"ok": True, "result": {"unexpected": "shape"}})
    config = TelegramConfig(token=TELEGRAM_TOKEN, api_base_url=fake_telegram.url, mode="polling")  # type: ignore[attr-defined]
    channel = TelegramChannel(config)

    async def refuse(*args: object, **kwargs: object) -> Submitted:
        raise AssertionError("no updates in this test")

    app = web.Application()
    channel.register(
        app,
        Core(on_message=refuse, submit=refuse, store=lambda name: NoStore(), mailboxes=no_mailboxes),  # type: ignore[arg-type]
    )
    server = TestServer(app)
    await server.start_server()
    try:
        await fake_telegram.wait_for("getMe")
        for _ in range(100):
            if any("failed to start" in r.getMessage() for r in caplog.records):
                break
            await asyncio.sleep(0.02)
        state, reason = channel.health()
        assert state == "starting"
        assert "unexpected failure" in reason
        failures = [r for r in caplog.records if "failed to start" in r.getMessage()]
        assert len(failures) == 1
        assert failures[0].exc_info, "with its traceback"
        await asyncio.wait_for(channel.ready.wait(), 20)  # the retry, 2 s later, gets a good answer
        assert channel.health() == ("ok", "")
    finally:
        await server.close()
