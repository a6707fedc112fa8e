"""Mailboxes for socket channels: a Redis stream per customer plus one pub/sub signal for all instances.

A socket may be held by any instance while the reply comes from another (the bot's worker, or an
agent on a third). Each message is appended to the customer's stream, so history and resume after a
reconnect are reads; a single subscription per instance turns "box X has news" into a local event.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping

from core.keys import MAILBOX_MAXLEN, MAILBOX_TTL_SECONDS, Keys
from core.redis import AsyncRedis
from core.tasks import stop_tasks

log = logging.getLogger(__name__)


class MailboxHub:
    """Appends, reads and the one pub/sub listener per instance; `for_channel` gives a channel its view."""

    def __init__(self, client: Callable[[], AsyncRedis], keys: Keys) -> None:
        """Use the client ``client`` returns (it exists only once the app has connected)."""
        self._client = client
        self._keys = keys
        self._watchers: dict[str, set[asyncio.Event]] = {}
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Subscribe to the signal channel."""
        self._task = asyncio.create_task(self._listen())

    async def stop(self) -> None:
        """Unsubscribe."""
        if self._task is not None:
            await stop_tasks(self._task)

    async def _listen(self) -> None:
        delay = 0.5
        while True:
            pubsub = self._client().pubsub()
            try:
                await pubsub.subscribe(self._keys.mailbox_signal)
                # Whatever was signalled while we were not subscribed: wake everyone to re-read.
                self._wake_all()
                delay = 0.5
                async for message in pubsub.listen():
                    if message.get("type") == "message":
                        for event in list(self._watchers.get(str(message["data"]), ())):
                            event.set()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("mailbox listener lost its connection; retrying", exc_info=True)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.reset()

    def _wake_all(self) -> None:
        for events in self._watchers.values():
            for event in events:
                event.set()

    async def append(self, conversation_id: str, entry: Mapping[str, str]) -> str:
        """Add ``entry`` to the conversation's mailbox and signal every instance."""
        key = self._keys.mailbox(conversation_id)
        entry_id = await self._client().xadd(key, dict(entry), maxlen=MAILBOX_MAXLEN, approximate=True)
        await self._client().expire(key, MAILBOX_TTL_SECONDS)
        await self._client().publish(self._keys.mailbox_signal, conversation_id)
        return str(entry_id)

    async def read(
        self, conversation_id: str, after: str = "", count: int = 200
    ) -> list[tuple[str, dict[str, str]]]:
        """Return entries after ``after`` (or the newest ``count``), oldest first."""
        key = self._keys.mailbox(conversation_id)
        if after:
            return [(i, dict(f)) for i, f in await self._client().xrange(key, min=f"({after}", count=count)]
        return [(i, dict(f)) for i, f in reversed(await self._client().xrevrange(key, count=count))]

    def watch(self, conversation_id: str) -> asyncio.Event:
        """Return an event set on news for the conversation."""
        event = asyncio.Event()
        self._watchers.setdefault(conversation_id, set()).add(event)
        return event

    def unwatch(self, conversation_id: str, event: asyncio.Event) -> None:
        """Forget ``event``."""
        watchers = self._watchers.get(conversation_id)
        if watchers is not None:
            watchers.discard(event)
            if not watchers:
                del self._watchers[conversation_id]

    def for_channel(self, channel: str) -> ChannelMailboxes:
        """Return ``channel``'s view, where a box is the customer's id on that channel."""
        return ChannelMailboxes(self, channel)


class ChannelMailboxes:
    """One channel's mailboxes; implements `channels.base.Mailboxes`."""

    def __init__(self, hub: MailboxHub, channel: str) -> None:
        """Address boxes as ``channel:box``."""
        self._hub = hub
        self._channel = channel

    async def append(self, box: str, entry: Mapping[str, str]) -> str:
        """Add ``entry`` to ``box``."""
        return await self._hub.append(f"{self._channel}:{box}", entry)

    async def read(self, box: str, after: str = "", count: int = 200) -> list[tuple[str, dict[str, str]]]:
        """Return entries of ``box`` after ``after``."""
        return await self._hub.read(f"{self._channel}:{box}", after, count)

    def watch(self, box: str) -> asyncio.Event:
        """Return an event set on news in ``box``."""
        return self._hub.watch(f"{self._channel}:{box}")

    def unwatch(self, box: str, event: asyncio.Event) -> None:
        """Forget ``event``."""
        self._hub.unwatch(f"{self._channel}:{box}", event)
