"""The interface every channel adapter implements, and the registry that finds them by name."""

from __future__ import annotations

import abc
import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar, Protocol

from aiohttp import web

from bot.messages import Inbound, Outbound

# The core's reply hook for one inbound message: the channel decides how a reply reaches the customer.
Reply = Callable[[Outbound], Awaitable[None]]
# The callback the core hands every channel.
OnMessage = Callable[[Inbound, Reply], Awaitable[None]]


class ChannelCannotPush(Exception):
    """The channel can only answer inside a request, so a message outside one cannot be delivered."""


class SendFailed(Exception):
    """The platform did not take a message; ``retryable`` says whether trying again may help."""

    def __init__(self, reason: str, *, retryable: bool, retry_after: float | None = None) -> None:
        """Describe the failure in words an agent can read (never the message itself)."""
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable
        self.retry_after = retry_after


@dataclass(frozen=True)
class Submitted:
    """What the core did with a message handed over for asynchronous handling."""

    duplicate: bool
    # The replies, when the caller asked to wait for them and they were ready in time; the core
    # then leaves their delivery to the caller (a passive reply in the webhook's response).
    replies: Sequence[Outbound] | None = None


# Whether the webhook can carry these replies in its own response (else the outbox pushes them).
Passive = Callable[[Sequence[Outbound]], bool]


class Submit(Protocol):
    """Hand a message to the core for handling after the webhook has been acknowledged."""

    async def __call__(
        self, inbound: Inbound, *, wait_reply: float = 0.0, passive: Passive | None = None
    ) -> Submitted:
        """Store the message durably (deduplicated on its id) and handle it in order; see `Submitted`."""


class SharedStore(Protocol):
    """A small key-value store shared by every engine instance, namespaced per channel."""

    async def get(self, key: str) -> str | None:
        """Return the value of ``key`` or None."""

    async def put(self, key: str, value: str, ttl_seconds: float | None = None) -> None:
        """Set ``key``, expiring after ``ttl_seconds`` when given."""

    async def add(self, key: str, value: str, ttl_seconds: float) -> bool:
        """Set ``key`` only if it is absent; return whether it was set (a lock or a claim)."""

    async def delete(self, key: str) -> None:
        """Remove ``key``."""


class Mailboxes(Protocol):
    """Per-customer message streams shared by every instance (a socket channel's history and resume)."""

    async def append(self, box: str, entry: Mapping[str, str]) -> str:
        """Add ``entry`` to ``box`` and wake its watchers on every instance; return the entry's id."""

    async def read(self, box: str, after: str = "", count: int = 200) -> list[tuple[str, dict[str, str]]]:
        """Return entries after id ``after`` (or the newest ``count`` when empty), oldest first."""

    def watch(self, box: str) -> asyncio.Event:
        """Return an event set whenever something is appended to ``box`` (on any instance)."""

    def unwatch(self, box: str, event: asyncio.Event) -> None:
        """Stop setting ``event``."""


@dataclass(frozen=True)
class Core:
    """What the core hands every channel: how to pass messages in and where to keep shared state."""

    # Handle now; replies go to the callback (request/response channels such as REST).
    on_message: OnMessage
    # Acknowledge first, handle later; replies are pushed through the channel's `send` by the outbox.
    submit: Submit
    # Shared per-channel state: access tokens, sync cursors, button payloads.
    store: Callable[[str], SharedStore]
    # Per-customer message streams, for channels that keep their own socket (the web chat widget).
    mailboxes: Callable[[str], Mailboxes]


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

    @abc.abstractmethod
    def register(self, app: web.Application, core: Core) -> None:
        """Add the channel's routes (and its clients' cleanup contexts) to ``app``."""

    @abc.abstractmethod
    async def send_text(self, recipient_id: str, text: str) -> None:
        """Send plain text to a recipient outside any inbound request (an agent's reply, say)."""

    async def send(self, message: Outbound) -> None:
        """Send a message in the platform's richest form; by default as plain text."""
        await self.send_text(message.recipient_id, message.plain_text())

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
