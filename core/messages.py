"""Channel-neutral message types passed between channels and the core."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


class EngineNotReady(Exception):
    """The engine cannot take messages yet (the model is still loading): the sender should retry."""


class StorageUnavailable(EngineNotReady):
    """The shared store (Redis) cannot be reached: nothing was taken in, and the sender should retry."""


class Overloaded(EngineNotReady):
    """Too many messages wait to be handled already: nothing was taken in, and the sender should retry."""


@dataclass(frozen=True)
class Inbound:
    """A customer's message as the core sees it, whatever channel brought it."""

    channel: str
    sender_id: str
    text: str
    message_id: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    received_at: float = field(default_factory=time.time)
    # Taken over from a worker that died while handling it: how far that worker got is unknown.
    replayed: bool = False

    @property
    def key(self) -> str:
        """Return what tells this message from the conversation's others (its id, else its arrival)."""
        return self.message_id or repr(self.received_at)

    @property
    def conversation_id(self) -> str:
        """Return the engine-wide conversation id: the same sender on two channels is two conversations."""
        return f"{self.channel}:{self.sender_id}"


@dataclass(frozen=True)
class Button:
    """A quick reply: what the customer sees and what is sent back when they pick it."""

    title: str
    payload: str


@dataclass(frozen=True)
class Outbound:
    """A reply to one recipient: text, optional buttons and image."""

    recipient_id: str
    text: str = ""
    buttons: tuple[Button, ...] = ()
    image_url: str | None = None
    # The agent who wrote it; empty for the bot and system messages.
    author: str = ""

    def plain_text(self) -> str:
        """Render for a channel that shows only text: buttons become a numbered list."""
        parts = [self.text] if self.text else []
        if self.image_url:
            parts.append(self.image_url)
        parts.extend(f"{i}. {button.title}" for i, button in enumerate(self.buttons, start=1))
        return "\n".join(parts)

    @classmethod
    def from_rasa(cls, message: Mapping[str, Any]) -> Outbound:
        """Build from one of Rasa's collected bot messages."""
        buttons = tuple(
            Button(str(b.get("title", "")), str(b.get("payload", ""))) for b in message.get("buttons") or ()
        )
        return cls(
            recipient_id=str(message.get("recipient_id", "")),
            text=str(message.get("text") or ""),
            buttons=buttons,
            image_url=message.get("image") or None,
        )
