"""The ports: what the core hands channels and services, and what they hand back.

Nothing here knows Redis, aiohttp or a chat SDK; the composition root (`bot.wiring`) plugs the
implementations in.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from core.messages import Inbound, Outbound

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

    async def release(self, key: str, value: str) -> bool:
        """Remove ``key`` only while it still holds ``value`` (a lock its owner lets go); True if removed."""


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


class Deliver(Protocol):
    """Send a staff or system message to the conversation's customer through its channel."""

    async def __call__(
        self, conversation_id: str, text: str, author: str, buttons: Sequence[tuple[str, str]] = ()
    ) -> None:
        """Deliver ``text`` and quick-reply buttons from ``author`` (empty: the system) to the customer."""


class Observe(Protocol):
    """Report one step of a conversation to the service events (the reports); ``key`` makes it once."""

    async def __call__(
        self,
        kind: str,
        conversation_id: str,
        *,
        key: str,
        agent: str = "",
        team: str = "",
        tier: str = "",
        detail: str = "",
        value: float | None = None,
    ) -> None:
        """Record ``kind`` for the conversation (a retried call with the same ``key`` counts once)."""


async def observe_nothing(
    kind: str,
    conversation_id: str,
    *,
    key: str,
    agent: str = "",
    team: str = "",
    tier: str = "",
    detail: str = "",
    value: float | None = None,
) -> None:
    """Record nothing: where no reports are wired (the CLI, a standalone action server, unit tests)."""


class Presence(Protocol):
    """Where the reports learn an agent's presence: status changes and the console's heartbeats."""

    async def changed(self, agent: str, status: str, team: str = "") -> None:
        """Note the agent's new status (online, paused, offline)."""

    async def seen(self, agent: str) -> None:
        """Note a heartbeat from the agent's console (the agent is still there)."""


class PresenceIgnored:
    """Count nothing (where no reports are wired)."""

    async def changed(self, agent: str, status: str, team: str = "") -> None:
        """Ignore a status change."""

    async def seen(self, agent: str) -> None:
        """Ignore a heartbeat."""
