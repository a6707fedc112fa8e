"""The engine's typed application keys; each object sits under exactly one key.

The handoff handlers' keys (states, transcripts, queue, ...) are defined beside those handlers in
`handoff.web.appkeys` and re-exported here, so the engine and its tests name one key per object.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import redis.asyncio as aioredis
from aiohttp import web

from bot.dialogue.agent import Dialogue
from bot.engine.delivery import Outbox
from bot.engine.intake import InboundQueue
from bot.engine.router import Router
from bot.settings import Settings
from bot.wiring import Services
from channels.base import Channel
from handoff.web.appkeys import (
    CANNED,
    CLOSING,
    CSAT,
    DELIVER,
    KEYS,
    OBSERVE,
    OUTBOX_TOKEN,
    PROFILES,
    QUALITY,
    QUEUE,
    ROUTING,
    SERVICE,
    SIGNOFF,
    STATES,
    TRANSCRIPTS,
)
from knowledge_base.web.api import KNOWLEDGE
from staff.auth import ACCOUNTS


@dataclass
class DialogueSlot:
    """The dialogue once it has loaded, or why it has not."""

    dialogue: Dialogue | None = None
    error: str | None = None
    loaded: asyncio.Event = field(default_factory=asyncio.Event)


SETTINGS = web.AppKey("settings", Settings)
SERVICES = web.AppKey("services", Services)
REDIS_URL = web.AppKey("redis_url", str)
REDIS = web.AppKey("redis", aioredis.Redis)
DIALOGUE = web.AppKey("dialogue", DialogueSlot)
ROUTER = web.AppKey("router", Router)
CHANNELS = web.AppKey("channels", list[Channel])
INBOUND = web.AppKey("inbound", InboundQueue)
OUTBOX = web.AppKey("outbox", Outbox)
# The handoff service under its engine-wide name.
HANDOFF = SERVICE

__all__ = [
    "ACCOUNTS",
    "CANNED",
    "CHANNELS",
    "CLOSING",
    "CSAT",
    "DELIVER",
    "DIALOGUE",
    "HANDOFF",
    "INBOUND",
    "KEYS",
    "KNOWLEDGE",
    "OBSERVE",
    "OUTBOX",
    "OUTBOX_TOKEN",
    "PROFILES",
    "QUALITY",
    "QUEUE",
    "REDIS",
    "REDIS_URL",
    "ROUTER",
    "ROUTING",
    "SERVICE",
    "SERVICES",
    "SETTINGS",
    "SIGNOFF",
    "STATES",
    "TRANSCRIPTS",
]
