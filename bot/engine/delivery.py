"""Delivery to customers: the durable push outbox (in Redis, in order, retried) and the owner mirror.

Each push (a message, or a service-state change on a platform that has them) is written to the
conversation's push stream in Redis together with its delivery record (pending → sending → delivered |
failed, with attempts and the platform's reason) before anything is sent. One worker across all
instances holds the conversation's lease and sends its pushes one at a time, in the order they were
queued, so a retry never lets a later answer overtake an earlier one. When an instance dies its lease
lapses and the sweep of another instance sends what is left. A push whose record says "sending" when it
is taken over may or may not have reached the platform (none of ours has an idempotency key): it is
sent again once and its record says ``maybe_duplicated``; one recorded as delivered or failed is never
sent again. A failure that retrying cannot fix (or that outlives the retries) is written into the
transcript, where the agent sees it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from bot.engine.streams import Drainer, Workers
from channels.base import Channel
from core.keys import DELIVERIES_TTL_SECONDS, Keys
from core.lease import Lease
from core.messages import Button, Outbound
from core.ports import SendFailed
from core.redis import REDIS_AWAY, AsyncRedis
from core.state import Transition
from core.tasks import stop_tasks
from core.transcript import Transcripts

log = logging.getLogger(__name__)

# Waits between attempts; a platform's own Retry-After wins when it is longer.
RETRY_DELAYS = (0.5, 1.0, 2.0, 4.0)
MAX_RETRY_AFTER_SECONDS = 30.0
SHUTDOWN_GRACE_SECONDS = 5.0
# A conversation with pushes listed this long is looked at by the sweep (its worker may have died).
RECOVER_AFTER_SECONDS = 5.0
# A known outcome is written for this long through a Redis outage (retrying from 0.2 s up to 2 s apart).
SETTLE_SECONDS = 120.0
SETTLE_RETRY_SECONDS = (0.2, 2.0)
# Records whose outcome is settled; anything else is still to be sent (or resent).
SETTLED = frozenset({"delivered", "failed"})


@dataclass(frozen=True)
class _Push:
    """One queued push: a message, or an owner change for a platform with service states."""

    delivery_id: str
    conversation_id: str
    message: Outbound
    # Set for a service-state change ("BOT", "QUEUED", "AGENT", "CLOSED"); the message is then its label.
    owner: str | None = None
    agent: str | None = None

    def encode(self) -> str:
        """Return the push as the JSON kept in the stream."""
        m = self.message
        data: dict[str, Any] = {
            "d": self.delivery_id,
            "to": m.recipient_id,
            "text": m.text,
            "buttons": [[b.title, b.payload] for b in m.buttons],
            "image": m.image_url,
            "author": m.author,
        }
        if self.owner is not None:
            data.update(owner=self.owner, agent=self.agent)
        return json.dumps(data, ensure_ascii=False)

    @classmethod
    def decode(cls, conversation_id: str, raw: str) -> _Push:
        """Rebuild a push from its stream entry."""
        data = json.loads(raw)
        message = Outbound(
            recipient_id=str(data["to"]),
            text=str(data.get("text") or ""),
            buttons=tuple(Button(str(t), str(p)) for t, p in data.get("buttons") or ()),
            image_url=data.get("image") or None,
            author=str(data.get("author") or ""),
        )
        return cls(str(data["d"]), conversation_id, message, data.get("owner"), data.get("agent"))


class Outbox:
    """Queue durably, send, retry and record outbound pushes for channels that push."""

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

        ``on_outcome(channel, "delivered" | "failed")`` hears of each push's end (the metrics).
        """
        self._on_outcome = on_outcome
        self._redis = client
        self._keys = keys
        self._transcripts = transcripts
        self._channel_for = channel_for
        self.delays = tuple(delays)
        self._local = Workers(self._drain)
        self._senders = self._local.tasks
        # The drain deletes each push once taken: sent, failed for good, or settled by an earlier worker.
        self._drainer = Drainer(client, keys.push_active, delete=True)

    async def send(self, conversation_id: str, message: Outbound) -> str:
        """Record ``message`` as pending, queue it behind the conversation's earlier ones; return its id."""
        # The conversation id decides the addressee (Rasa addresses replies to the conversation id).
        message = replace(message, recipient_id=conversation_id.partition(":")[2])
        return await self._queue(_Push(uuid.uuid4().hex[:16], conversation_id, message))

    async def owner_changed(self, conversation_id: str, owner: str, agent: str | None) -> str:
        """Queue a service-state change behind the conversation's messages, retried alike."""
        label = Outbound(conversation_id.partition(":")[2], f"service state → {owner}")
        return await self._queue(_Push(uuid.uuid4().hex[:16], conversation_id, label, owner, agent))

    async def listed(self, conversation_id: str) -> None:
        """List the conversation for recovery; done before its pushes are stored (see `stage`)."""
        # Listed first, so a crash in between leaves at worst an empty entry for the sweep to drop.
        await self._redis.zadd(self._keys.push_active, {conversation_id: time.time()}, nx=True)

    def stage(self, pipe: Any, conversation_id: str, message: Outbound) -> str:
        """Add the commands that store ``message`` and its record to ``pipe``; return its delivery id."""
        message = replace(message, recipient_id=conversation_id.partition(":")[2])
        push = _Push(uuid.uuid4().hex[:16], conversation_id, message)
        self._stage(pipe, push)
        return push.delivery_id

    def _stage(self, pipe: Any, push: _Push) -> None:
        record = {
            "text": push.message.plain_text()[:200],
            "at": int(time.time() * 1000),
            # Orders records queued within one millisecond (the record list is shown in queue order).
            "ns": time.time_ns(),
            "status": "pending",
            "attempts": 0,
            "reason": "",
        }
        self._write_record(pipe, push.conversation_id, push.delivery_id, record)
        pipe.xadd(self._keys.push_queue(push.conversation_id), {"p": push.encode()})

    async def _queue(self, push: _Push) -> str:
        await self.listed(push.conversation_id)
        # The record and the stream entry share the conversation's slot: one transaction writes both.
        slot = self._keys.push_queue(push.conversation_id)
        async with self._redis.pipeline(transaction=True, shard_hint=slot) as pipe:
            self._stage(pipe, push)
            await pipe.execute()
        self.kick(push.conversation_id)
        return push.delivery_id

    def kick(self, conversation_id: str) -> None:
        """Make sure a local worker sends the conversation's pushes (no-op if one is running)."""
        self._local.kick(conversation_id)

    async def recover(self, limit: int = 100) -> int:
        """Start workers for conversations whose pushes have waited too long (their worker died)."""
        cutoff = time.time() - RECOVER_AFTER_SECONDS
        stale = await self._redis.zrangebyscore(self._keys.push_active, "-inf", cutoff, start=0, num=limit)
        for conversation in stale:
            self.kick(conversation)
        return len(stale)

    async def deliveries(self, conversation_id: str) -> list[dict[str, object]]:
        """Return the conversation's delivery records, oldest first."""
        raw = await self._redis.hgetall(self._keys.deliveries(conversation_id))
        records = [{"id": key, **json.loads(value)} for key, value in raw.items()]
        return sorted(
            records, key=lambda r: (int(str(r.get("at", 0))), int(str(r.get("ns", 0))), str(r["id"]))
        )

    async def _drain(self, conversation: str) -> None:
        lease = Lease(self._redis, self._keys.push_lease(conversation))
        stream = self._keys.push_queue(conversation)

        async def take(entry_id: str, fields: dict[str, str]) -> None:
            if "p" in fields:
                push = _Push.decode(conversation, fields["p"])
                await self._deliver(push, still_held=lambda: not lease.lost)

        try:
            await self._drainer.drain(lease, stream, conversation, take)
        except asyncio.CancelledError:
            raise
        except Exception:
            # Redis trouble: the pushes stay queued and the sweep retries them.
            log.exception("outbox worker stopped", extra={"conversation": conversation})

    async def _deliver(self, push: _Push, still_held: Callable[[], bool]) -> None:
        conversation = push.conversation_id
        channel_name = conversation.partition(":")[0]
        channel = self._channel_for(channel_name)
        raw = await self._redis.hget(self._keys.deliveries(conversation), push.delivery_id)
        record: dict[str, Any] = json.loads(raw) if raw else {"text": push.message.plain_text()[:200]}
        if record.get("status") in SETTLED:
            return  # its worker died after recording the outcome, before it could take the push off
        if record.get("status") == "sending":
            # The worker that was sending it died: the platform may have it already.
            record["maybe_duplicated"] = True
            log.warning("resending a push whose outcome is unknown", extra={"conversation": conversation})
        attempt = int(record.get("attempts") or 0)
        while True:
            if not still_held():
                return  # another worker owns the conversation now and takes it from the record
            attempt += 1
            await self._record(conversation, push.delivery_id, record, "sending", attempt, "")
            try:
                if channel is None:
                    raise SendFailed(f"channel {channel_name!r} is not enabled", retryable=False)
                if push.owner is not None:
                    await channel.owner_changed(push.message.recipient_id, push.owner, push.agent)
                else:
                    await channel.send(push.message)
            except SendFailed as exc:
                if exc.retryable and attempt <= len(self.delays):
                    delay = max(self.delays[attempt - 1], min(exc.retry_after or 0, MAX_RETRY_AFTER_SECONDS))
                    log.warning(
                        "send failed; retrying",
                        extra={"conversation": conversation, "attempt": attempt, "reason": exc.reason},
                    )
                    await self._record(
                        conversation, push.delivery_id, record, "retrying", attempt, exc.reason
                    )
                    await asyncio.sleep(delay)
                    continue
                await self._failed(push, record, attempt, exc.reason)
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # an adapter bug must not lose the record: mark it failed
                log.exception("channel send raised", extra={"conversation": conversation})
                await self._failed(push, record, attempt, f"{type(exc).__name__}")
                return
            await self._settle(conversation, push.delivery_id, record, "delivered", attempt, "")
            self._on_outcome(channel_name, "delivered")
            return

    async def _failed(self, push: _Push, record: dict[str, Any], attempts: int, reason: str) -> None:
        conversation = push.conversation_id
        log.error(
            "message not delivered",
            extra={"conversation": conversation, "attempts": attempts, "reason": reason},
        )
        await self._settle(conversation, push.delivery_id, record, "failed", attempts, reason)
        self._on_outcome(conversation.partition(":")[0], "failed")
        preview = push.message.plain_text()[:80]
        await self._transcripts.append(
            conversation, "system", f"⚠ 消息未送达 / not delivered ({reason}): {preview}"
        )

    async def _record(
        self,
        conversation_id: str,
        delivery_id: str,
        record: dict[str, Any],
        status: str,
        attempts: int,
        reason: str,
    ) -> None:
        record.update(status=status, attempts=attempts, reason=reason, updated=int(time.time() * 1000))
        async with self._redis.pipeline(transaction=False) as pipe:
            self._write_record(pipe, conversation_id, delivery_id, record)
            await pipe.execute()

    async def _settle(
        self,
        conversation_id: str,
        delivery_id: str,
        record: dict[str, Any],
        status: str,
        attempts: int,
        reason: str,
    ) -> None:
        """Record a known outcome, waiting out a Redis outage: a lost "delivered" would mean a resend."""
        wait = SETTLE_RETRY_SECONDS[0]
        deadline = time.monotonic() + SETTLE_SECONDS
        while True:
            try:
                await self._record(conversation_id, delivery_id, record, status, attempts, reason)
                return
            except REDIS_AWAY:
                if time.monotonic() > deadline:
                    raise
                log.warning(
                    "cannot record a push's outcome yet; retrying", extra={"conversation": conversation_id}
                )
                await asyncio.sleep(wait)
                wait = min(wait * 2, SETTLE_RETRY_SECONDS[1])

    def _write_record(
        self, pipe: Any, conversation_id: str, delivery_id: str, record: Mapping[str, Any]
    ) -> None:
        key = self._keys.deliveries(conversation_id)
        pipe.hset(key, delivery_id, json.dumps(record, ensure_ascii=False))
        pipe.expire(key, DELIVERIES_TTL_SECONDS)

    async def idle(self) -> None:
        """Wait until every push queued here has been delivered or has failed."""
        while tasks := [t for t in self._senders.values() if not t.done()]:
            await asyncio.gather(*tasks, return_exceptions=True)

    async def close(self) -> None:
        """Give queued pushes a moment to leave, then stop (what is left waits in Redis for a sweep)."""
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
        channel = self._channel_for(transition.conversation_id.partition(":")[0])
        if channel is None or not channel.follows_owner:
            return
        agent = transition.actor.partition(":")[2] if transition.actor.startswith("agent:") else None
        await self.outbox.owner_changed(transition.conversation_id, transition.current.value, agent)
