"""The interface every channel adapter implements, and the registry that finds them by name."""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import ClassVar

from aiohttp import web

from core.messages import Outbound
from core.ports import Core


@dataclass(frozen=True)
class Shown:
    """One message as a channel's customer sees it (what the knowledge-base editor previews).

    ``kind`` is ``text``, ``photo`` (an image with ``text`` as its caption) or ``menu`` (text whose
    ``buttons`` are tappable lines, WeChat's msgmenu); ``layout`` says how buttons are drawn: ``lines``
    under the text, ``keyboard`` (one button per row, Telegram) or ``chips`` (the web chat widget).
    """

    kind: str
    text: str
    buttons: tuple[str, ...] = ()
    layout: str = ""
    image_url: str | None = None


class Channel(abc.ABC):
    """A channel adapter.

    Modelled on Rasa's InputChannel/OutputChannel split: the core gives the channel a callback and
    never reaches into it; a channel must send text and may override `send` for richer messages.
    """

    name: ClassVar[str]
    # Whether the channel can reach a customer outside a request; the REST channel cannot.
    can_push: ClassVar[bool] = True
    # Whether the platform keeps its own idea of who serves the customer (WeCom's service states).
    follows_owner: ClassVar[bool] = False

    def health(self) -> tuple[str, str]:
        """Return the channel's state (``ok``, ``starting`` or ``failed``) and why, for ``/healthz``."""
        return "ok", ""

    @abc.abstractmethod
    def register(self, app: web.Application, core: Core) -> None:
        """Add the channel's routes (and its clients' cleanup contexts) to ``app``."""

    @abc.abstractmethod
    async def send_text(self, recipient_id: str, text: str) -> None:
        """Send plain text to a recipient outside any inbound request (an agent's reply, say)."""

    async def send(self, message: Outbound) -> None:
        """Send a message in the platform's richest form; by default as plain text."""
        await self.send_text(message.recipient_id, message.plain_text())

    @classmethod
    def preview(cls, message: Outbound) -> list[Shown]:
        """Return the messages ``send`` would make of ``message``; by default the plain text."""
        return [Shown("text", message.plain_text())]

    async def owner_changed(self, recipient_id: str, owner: str, agent: str | None) -> None:
        """Mirror a change of owner (BOT, QUEUED, AGENT, CLOSED) on the platform; raise `SendFailed`."""
        return None


REGISTRY: dict[str, type[Channel]] = {}


def register_channel(cls: type[Channel]) -> type[Channel]:
    """Class decorator that makes a channel available by its ``name``."""
    if cls.name in REGISTRY:
        raise ValueError(f"channel {cls.name!r} registered twice")
    REGISTRY[cls.name] = cls
    return cls
