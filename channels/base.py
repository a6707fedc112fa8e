"""The interface every channel adapter implements, and the registry that finds them by name."""

from __future__ import annotations

import abc
from collections.abc import Awaitable, Callable
from typing import ClassVar

from aiohttp import web

from bot.messages import Inbound, Outbound

# The core's reply hook for one inbound message: the channel decides how a reply reaches the customer.
Reply = Callable[[Outbound], Awaitable[None]]
# The callback the core hands every channel.
OnMessage = Callable[[Inbound, Reply], Awaitable[None]]


class ChannelCannotPush(Exception):
    """The channel can only answer inside a request, so a message outside one cannot be delivered."""


class Channel(abc.ABC):
    """A channel adapter.

    Modelled on Rasa's InputChannel/OutputChannel split: the core gives the channel a callback and
    never reaches into it; a channel must send text and may override `send` for richer messages.
    """

    name: ClassVar[str]

    @abc.abstractmethod
    def register(self, app: web.Application, on_message: OnMessage) -> None:
        """Add the channel's routes to ``app``; inbound messages go to ``on_message``."""

    @abc.abstractmethod
    async def send_text(self, recipient_id: str, text: str) -> None:
        """Send plain text to a recipient outside any inbound request (an agent's reply, say)."""

    async def send(self, message: Outbound) -> None:
        """Send a message in the platform's richest form; by default as plain text."""
        await self.send_text(message.recipient_id, message.plain_text())


REGISTRY: dict[str, type[Channel]] = {}


def register_channel(cls: type[Channel]) -> type[Channel]:
    """Class decorator that makes a channel available by its ``name``."""
    if cls.name in REGISTRY:
        raise ValueError(f"channel {cls.name!r} registered twice")
    REGISTRY[cls.name] = cls
    return cls
