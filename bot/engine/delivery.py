"""Delivery to customers: the push outbox (recorded, in order, retried) and the owner mirror.

Each message gets a delivery record in Redis (pending → delivered | failed, with attempts and the
platform's reason). A conversation's messages leave one at a time, in the order they were queued, so a
retry never lets a later answer overtake an earlier one. A failure that retrying cannot fix (or that
outlives the retries) is written into the transcript, where the agent sees it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace

from channels.base import Channel
from core.keys import DELIVERIES_TTL_SECONDS, Keys
from core.messages import Button, Outbound
from core.ports import SendFailed
from core.redis import AsyncRedis
from core.state import Transition
from core.tasks import stop_tasks
from core.transcript import Transcripts

log = logging.getLogger(__name__)

# Waits between attempts; a platform's own Retry-After wins when it is longer.
RETRY_DELAYS = (0.5, 1.0, 2.0, 4.0)
MAX_RETRY_AFTER_SECONDS = 30.0
SHUTDOWN_GRACE_SECONDS = 5.0


@dataclass(frozen=True)
class _Job:
    delivery_id: str
    conversation_id: str
    message: Outbound
    # A platform call other than a message (a service-state change), kept in the same order.
    action: Callable[[], Awaitable[None]] | None = None


class Outbox:
    """Queue, send, retry and record outbound messages for channels that push."""

    def __init__(
        self,
        client: AsyncRedis,
        keys: Keys,
        transcripts: Transcripts,
        channel_for: Callable[[str], Channel | None],
        delays: Sequence[float] = RETRY_DELAYS,
        on_outcome: Callable[[str, str], None] = lambda channel, outcome: None,
    ) -> None:
        """Look channels up by name with ``channel_for``; wait ``delays`` between attempts.

        ``on_outcome(channel, "delivered" | "failed")`` hears of each message's end (the metrics).
        """
        self._on_outcome = on_outcome
        self._redis = client
        self._keys = keys
        self._transcripts = transcripts
        self._channel_for = channel_for
        self.delays = tuple(delays)
        self._queues: dict[str, asyncio.Queue[_Job]] = {}
        self._senders: dict[str, asyncio.Task[None]] = {}

    async def send(self, conversation_id: str, message: Outbound) -> str:
        """Record ``message`` as pending, queue it behind the conversation's earlier ones; return its id."""
        # The conversation id decides the addressee (Rasa addresses replies to the conversation id).
        message = replace(message, recipient_id=conversation_id.partition(":")[2])
        return await self._queue(conversation_id, message, None)

    async def run(self, conversation_id: str, label: str, action: Callable[[], Awaitable[None]]) -> str:
        """Queue a platform call (not a message) behind the conversation's messages, retried alike."""
        return await self._queue(conversation_id, Outbound(conversation_id.partition(":")[2], label), action)

    async def _queue(
        self, conversation_id: str, message: Outbound, action: Callable[[], Awaitable[None]] | None
    ) -> str:
        delivery_id = uuid.uuid4().hex[:16]
        await self._record(conversation_id, delivery_id, "pending", 0, "", message)
        queue = self._queues.setdefault(conversation_id, asyncio.Queue())
        queue.put_nowait(_Job(delivery_id, conversation_id, message, action))
        sender = self._senders.get(conversation_id)
        if sender is None or sender.done():
            self._senders[conversation_id] = asyncio.create_task(self._drain(conversation_id, queue))
        return delivery_id

    async def deliveries(self, conversation_id: str) -> list[dict[str, object]]:
        """Return the conversation's delivery records, oldest first."""
        raw = await self._redis.hgetall(self._keys.deliveries(conversation_id))
        records = [{"id": key, **json.loads(value)} for key, value in raw.items()]
        return sorted(records, key=lambda r: (int(str(r.get("at", 0))), str(r["id"])))

    async def _drain(self, conversation_id: str, queue: asyncio.Queue[_Job]) -> None:
        while not queue.empty():
            job = queue.get_nowait()
            try:
                await self._deliver(job)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("outbox delivery crashed", extra={"conversation": conversation_id})
        # Nothing queued: let the conversation's queue go (a new send creates another).
        if queue.empty() and self._queues.get(conversation_id) is queue:
            del self._queues[conversation_id]

    async def _deliver(self, job: _Job) -> None:
        channel_name = job.conversation_id.partition(":")[0]
        channel = self._channel_for(channel_name)
        attempt = 0
        while True:
            attempt += 1
            try:
                if channel is None:
                    raise SendFailed(f"channel {channel_name!r} is not enabled", retryable=False)
                await (job.action() if job.action is not None else channel.send(job.message))
            except SendFailed as exc:
                if exc.retryable and attempt <= len(self.delays):
                    delay = max(self.delays[attempt - 1], min(exc.retry_after or 0, MAX_RETRY_AFTER_SECONDS))
                    log.warning(
                        "send failed; retrying",
                        extra={"conversation": job.conversation_id, "attempt": attempt, "reason": exc.reason},
                    )
                    await self._record(job.conversation_id, job.delivery_id, "retrying", attempt, exc.reason)
                    await asyncio.sleep(delay)
                    continue
                await self._failed(job, attempt, exc.reason)
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # an adapter bug must not lose the record: mark it failed
                log.exception("channel send raised", extra={"conversation": job.conversation_id})
                await self._failed(job, attempt, f"{type(exc).__name__}")
                return
            await self._record(job.conversation_id, job.delivery_id, "delivered", attempt, "")
            self._on_outcome(channel_name, "delivered")
            return

    async def _failed(self, job: _Job, attempts: int, reason: str) -> None:
        log.error(
            "message not delivered",
            extra={"conversation": job.conversation_id, "attempts": attempts, "reason": reason},
        )
        await self._record(job.conversation_id, job.delivery_id, "failed", attempts, reason)
        self._on_outcome(job.conversation_id.partition(":")[0], "failed")
        preview = job.message.plain_text()[:80]
        await self._transcripts.append(
            job.conversation_id, "system", f"⚠ 消息未送达 / not delivered ({reason}): {preview}"
        )

    async def _record(
        self,
        conversation_id: str,
        delivery_id: str,
        status: str,
        attempts: int,
        reason: str,
        message: Outbound | None = None,
    ) -> None:
        key = self._keys.deliveries(conversation_id)
        previous = await self._redis.hget(key, delivery_id)
        record: dict[str, object] = json.loads(previous) if previous else {}
        if message is not None:
            record["text"] = message.plain_text()[:200]
            record["at"] = int(time.time() * 1000)
        record.update(status=status, attempts=attempts, reason=reason, updated=int(time.time() * 1000))
        await self._redis.hset(key, delivery_id, json.dumps(record, ensure_ascii=False))
        await self._redis.expire(key, DELIVERIES_TTL_SECONDS)

    async def idle(self) -> None:
        """Wait until every queued message has been delivered or has failed."""
        while tasks := [t for t in self._senders.values() if not t.done()]:
            await asyncio.gather(*tasks, return_exceptions=True)

    async def close(self) -> None:
        """Give queued messages a moment to leave, then stop (what is left stays recorded as pending)."""
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self.idle(), SHUTDOWN_GRACE_SECONDS)
        await stop_tasks(*self._senders.values())


class Delivery:
    """How staff and system messages reach a customer, and how owner changes reach the platform."""

    def __init__(
        self, outbox: Outbox, transcripts: Transcripts, channel_for: Callable[[str], Channel | None]
    ) -> None:
        self.outbox = outbox
        self._transcripts = transcripts
        self._channel_for = channel_for

    async def deliver(
        self, conversation_id: str, text: str, author: str, buttons: Sequence[tuple[str, str]] = ()
    ) -> None:
        """Push through the conversation's channel; one that cannot push (REST) is polled instead."""
        channel_name, _, recipient = conversation_id.partition(":")
        channel = self._channel_for(channel_name)
        if channel is not None and channel.can_push:
            # Recorded, sent in order and retried by the outbox; a failure shows in the transcript.
            message = Outbound(recipient, text, tuple(Button(t, p) for t, p in buttons), author=author)
            await self.outbox.send(conversation_id, message)
            return
        role = "agent" if author else "system"
        await self._transcripts.push_outbox(conversation_id, role, text, author, buttons)

    async def mirror(self, transition: Transition) -> None:
        """Tell a platform with its own service states of an owner change, in order with the messages."""
        name, _, recipient = transition.conversation_id.partition(":")
        channel = self._channel_for(name)
        if channel is None or not channel.follows_owner:
            return
        owner = transition.current.value
        agent = transition.actor.partition(":")[2] if transition.actor.startswith("agent:") else None
        await self.outbox.run(
            transition.conversation_id,
            f"service state → {owner}",
            lambda: channel.owner_changed(recipient, owner, agent),
        )
