"""The answer preview of the knowledge-base editor: an entry's answer as each channel would send it.

It lives in the bot layer because it joins the two sides the layers keep apart: the knowledge base's
entries and the channel adapters' rendering (each adapter's ``preview`` mirrors its own ``send``).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from aiohttp import web

from channels.base import Channel
from channels.telegram import TelegramChannel
from channels.webchat import WebchatChannel
from channels.wechat import WechatChannel
from channels.wecom import WecomChannel
from core.messages import Button, Outbound
from knowledge_base import EntryError, parse_entry
from staff.api import Operation, json_object
from staff.errors import json_error

# The channels customers write from, in the order the editor shows them.
PREVIEWED: tuple[type[Channel], ...] = (WechatChannel, WecomChannel, TelegramChannel, WebchatChannel)


async def preview_answer(request: web.Request) -> web.StreamResponse:
    """Return the messages each channel would send for the entry in the body (nothing is saved)."""
    try:
        entry = parse_entry(await json_object(request))
    except EntryError as exc:
        return json_error(400, str(exc))
    buttons = tuple(Button(b.title, b.payload) for b in entry.buttons)
    channels: dict[str, Any] = {}
    for channel in PREVIEWED:
        message = Outbound("preview", entry.answer_for(channel.name), buttons, entry.image_url or None)
        channels[channel.name] = [asdict(shown) for shown in channel.preview(message)]
    return web.json_response({"channels": channels})


def operations() -> list[Operation]:
    """Return the preview's operation (editors)."""
    return [
        Operation(
            "POST",
            "/api/kb/preview",
            preview_answer,
            "An entry's answer as each channel would send it.",
            body="Entry",
        )
    ]
