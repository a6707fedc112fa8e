"""Each channel's preview shows exactly what its ``send`` puts on the wire (checked at the fake platforms)."""

from __future__ import annotations

import uuid

from aiohttp.test_utils import TestClient

from bot.appkeys import CHANNELS
from channels.base import Channel, Shown
from channels.telegram import TelegramChannel
from channels.webchat import WebchatChannel
from channels.wechat import WechatChannel
from core.messages import Button, Outbound
from tests.channels.conftest import new_id
from tests.fakes.telegram import FakeTelegram
from tests.fakes.wechat import FakeWechat

LONG_TITLE = "请问" + "这个订单的商品" * 12  # longer than any platform shows
BUTTONS = (Button(LONG_TITLE, "/return"), Button("转人工", "/request_human"))


def channel(engine: TestClient, name: str) -> Channel:
    return next(c for c in engine.app[CHANNELS] if c.name == name)


async def test_telegram_preview_matches_the_photo_the_messages_and_the_keyboard_sent(
    channels_engine: TestClient, fake_telegram: FakeTelegram
) -> None:
    chat = new_id()
    image = "https://cdn.example.com/faq/label.png"
    message = Outbound(str(chat), "退" * 1500, BUTTONS, image)
    await channel(channels_engine, "telegram").send(message)
    (photo,) = await fake_telegram.wait_for("sendPhoto", lambda c: int(c.params["chat_id"]) == chat)
    (rest,) = await fake_telegram.wait_for("sendMessage", lambda c: int(c.params["chat_id"]) == chat)
    keyboard = [row[0]["text"] for row in photo.params["reply_markup"]["inline_keyboard"]]
    shown = TelegramChannel.preview(message)
    assert shown == [
        Shown("photo", photo.params["caption"], tuple(keyboard), "keyboard", photo.params["photo"]),
        Shown("text", rest.params["text"]),
    ]
    assert len(keyboard[0]) == 64, "Telegram's label limit, as the customer sees it"

    chat = new_id()
    message = Outbound(str(chat), "好" * 5000, BUTTONS)
    await channel(channels_engine, "telegram").send(message)
    sent = await fake_telegram.wait_for("sendMessage", lambda c: int(c.params["chat_id"]) == chat, count=2)
    keyboard = [row[0]["text"] for row in sent[1].params["reply_markup"]["inline_keyboard"]]
    assert TelegramChannel.preview(message) == [
        Shown("text", sent[0].params["text"]),
        Shown("text", sent[1].params["text"], tuple(keyboard), "keyboard"),
    ]


async def test_wechat_preview_matches_the_menu_and_the_pieces_sent(
    channels_engine: TestClient, fake_wechat: FakeWechat
) -> None:
    user = "oX7" + uuid.uuid4().hex[:25]
    message = Outbound(user, "请选择：", BUTTONS, "https://cdn.example.com/a.png")
    await channel(channels_engine, "wechat").send(message)
    (menu,) = await fake_wechat.wait_for("custom_send", lambda c: c.params.get("touser") == user)
    body = menu.params["msgmenu"]
    assert WechatChannel.preview(message) == [
        Shown("menu", body["head_content"], tuple(item["content"] for item in body["list"]), "lines")
    ]

    user = "oX7" + uuid.uuid4().hex[:25]
    message = Outbound(user, "长" * 1300)
    await channel(channels_engine, "wechat").send(message)
    pieces = await fake_wechat.wait_for("custom_send", lambda c: c.params.get("touser") == user, count=3)
    assert WechatChannel.preview(message) == [Shown("text", p.params["text"]["content"]) for p in pieces]


def test_the_widget_preview_draws_one_bubble_with_chips() -> None:
    shown = WebchatChannel.preview(Outbound("v", "您好", BUTTONS))
    assert shown == [Shown("text", "您好", (LONG_TITLE, "转人工"), "chips")]
