"""Acknowledge-first intake for push channels: dedup, a durable per-conversation queue, ordered workers.

A platform webhook must be answered within seconds, so a push channel hands each message to
`InboundQueue.submit`, which stores it in Redis (dropping a platform retry by its message id) and
returns. A worker per conversation then handles the messages one by one, in arrival order; a lease
in Redis makes one worker across all instances own a conversation, and a sweep picks up the queue
of an instance that died before handling what it had acknowledged. The worker runs in whichever
process has a turn free (`bot.engine.ready`), except for a webhook waiting for its own replies.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from bot.engine.ready import ReadyList
from bot.engine.streams import Drainer, Workers
from core.keys import DEDUP_TTL_SECONDS, Keys
from core.lease import Lease
from core.messages import EngineNotReady, Inbound, Outbound, Overloaded, StorageUnavailable
from core.ports import Passive, Reply, Submitted
from core.redis import REDIS_AWAY, AsyncRedis, for_slot
from core.tasks import stop_tasks
from core.throttle import throttled

log = logging.getLogger(__name__)
# Not a failure of the message: the worker stops and the message stays queued.
_STOP_HERE: tuple[type[BaseException], ...] = (asyncio.CancelledError, *REDIS_AWAY)

# A queue untouched this long while its conversation is still listed belongs to a dead worker.
RECOVER_AFTER_SECONDS = 5.0
HANDLE_ATTEMPTS = 4
# Taken once, and once more by another instance if the first died mid-turn; never a third time.
MAX_TAKES = 2
# Conversations with messages waiting to be handled, across instances, before new ones are refused.
DEFAULT_BACKLOG_LIMIT = 5000
# Turns run at once per process by default (`TURNS_AT_ONCE`): each is mostly CPU, so more than a few
# only slow the webhooks sharing the event loop (bench/RESULTS.md, overload).
CONCURRENT_TURNS = 4
# Messages one conversation may have waiting (a sender flooding its own conversation is refused first).
MAX_WAITING_PER_CONVERSATION = 100
RETRY_BASE_SECONDS = 0.5

# KEYS: dedup marker, inbound stream. ARGV: encoded message, dedup ttl (s), has id ("1"/"0").
# Returns the new stream id, or false for a message id already taken in.
_SUBMIT_LUA = """
if ARGV[3] == '1' then
  if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[2]) then return false end
end
return redis.call('XADD', KEYS[2], '*', 'm', ARGV[1])
"""

Handler = Callable[[Inbound, Reply], Awaitable[None]]


class Pushes(Protocol):
    """Where replies go: the durable outbox, staged in the intake's own transaction."""

    async def listed(self, conversation_id: str) -> None:
        """List the conversation as having pushes (before the transaction that stages them)."""

    def stage(self, pipe: Any, conversation_id: str, message: Outbound) -> str:
        """Add the commands that queue ``message`` to ``pipe``; return its delivery id."""

    def kick(self, conversation_id: str) -> None:
        """Start sending the conversation's queued pushes."""


def _encode(inbound: Inbound) -> str:
    return json.dumps(
        {
            "channel": inbound.channel,
            "sender": inbound.sender_id,
            "text": inbound.text,
            "id": inbound.message_id,
            "meta": dict(inbound.metadata),
            "at": inbound.received_at,
        },
        ensure_ascii=False,
    )


def _decode(raw: str) -> Inbound:
    data = json.loads(raw)
    return Inbound(
        channel=data["channel"],
        sender_id=data["sender"],
        text=data["text"],
        message_id=data.get("id"),
        metadata=data.get("meta") or {},
        received_at=float(data.get("at") or time.time()),
    )


@dataclass
class _Waiter:
    """A webhook waiting for the replies to its own message (WeChat's passive reply)."""

    passive: Passive
    future: asyncio.Future[list[Outbound] | None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class InboundQueue:
    """Take in push-channel messages durably and handle each conversation's messages in order."""

    def __init__(
        self,
        client: AsyncRedis,
        keys: Keys,
        handle: Handler,
        pushes: Pushes,
        *,
        backlog_limit: int = DEFAULT_BACKLOG_LIMIT,
        turns_at_once: int = CONCURRENT_TURNS,
        wait_replicas: int = 0,
        wait_ms: int = 500,
    ) -> None:
        """Handle messages with ``handle`` (the router) and push its replies through ``pushes``.

        While ``backlog_limit`` conversations wait to be handled (or one conversation has
        `MAX_WAITING_PER_CONVERSATION` messages waiting), a new message is refused with `Overloaded`.
        With ``wait_replicas``, a message is acknowledged only once that many replicas hold it.
        """
        self.backlog_limit = backlog_limit
        self.wait_replicas, self.wait_ms = wait_replicas, wait_ms
        self._turns = asyncio.Semaphore(turns_at_once)
        self._redis = client
        self._keys = keys
        self._handle = handle
        self._pushes = pushes
        self._submit = client.register_script(_SUBMIT_LUA)
        self._local = Workers(self._drain)
        self._workers = self._local.tasks
        self._drainer = Drainer(client, keys.inbound_active)
        # By conversation and entry id: entry ids are per stream (the millisecond), so two conversations'
        # messages stored in the same millisecond share one.
        self._waiters: dict[tuple[str, str], _Waiter] = {}
        self._ready = ReadyList(client, keys.inbound_ready, self._run_pulled, self._free_turn, turns_at_once)

    async def submit(
        self, inbound: Inbound, *, wait_reply: float = 0.0, passive: Passive | None = None
    ) -> Submitted:
        """Store ``inbound`` unless its id was seen, start its conversation's worker, maybe await replies.

        With ``wait_reply`` and ``passive``, replies ready within ``wait_reply`` seconds that ``passive``
        accepts are returned for the webhook to answer with; anything else goes through the outbox.
        """
        conversation = inbound.conversation_id
        message_id = inbound.message_id or ""
        await self._admit(conversation)
        # Listed before it is stored, so a crash in between leaves at worst an empty entry to sweep.
        await self._redis.zadd(self._keys.inbound_active, {conversation: time.time()}, nx=True)
        keys = [self._keys.dedup(conversation, message_id), self._keys.inbound_queue(conversation)]
        args: list[str | int] = [_encode(inbound), DEDUP_TTL_SECONDS, "1" if message_id else "0"]
        held = None
        if self.wait_replicas:
            # WAIT counts the replicas holding what its own connection wrote: it follows the message on one
            # connection to the master of the message's slot (on a cluster, a plain client for that node).
            node = await for_slot(self._redis, keys[1])
            async with node.pipeline(transaction=False) as pipe:
                await self._submit(keys=keys, args=args, client=pipe)
                pipe.wait(self.wait_replicas, self.wait_ms)
                entry, held = await pipe.execute()
        else:
            entry = await self._submit(keys=keys, args=args)
        if entry is None:
            throttled.info(
                log,
                "duplicate message dropped",
                extra={"conversation": conversation, "message_id": message_id},
            )
            return Submitted(duplicate=True)
        entry_id = str(entry)
        if held is not None and not await self._replicated(conversation, int(held)):
            self.kick(conversation)  # stored all the same: it is handled, and the platform's retry dropped
            raise StorageUnavailable("the message is not safe on a replica yet; retry shortly")
        # A webhook may wait for its own replies only while this process has a turn free; otherwise the
        # message goes to whichever process has one, and its replies through the outbox.
        if wait_reply <= 0 or passive is None or self._turns.locked():
            self._ready.start()
            await self._ready.announce(conversation)
            return Submitted(duplicate=False)
        # The webhook waits here for the replies: its own process handles the message.
        waiter = self._waiters[conversation, entry_id] = _Waiter(passive)
        self.kick(conversation)
        try:
            replies = await asyncio.wait_for(asyncio.shield(waiter.future), wait_reply)
        except asyncio.TimeoutError:
            return Submitted(duplicate=False)
        finally:
            # From here on the worker sends whatever it has not handed over.
            self._waiters.pop((conversation, entry_id), None)
            if not waiter.future.done():
                waiter.future.cancel()
        return Submitted(duplicate=False, replies=replies)

    async def _replicated(self, conversation: str, held: int) -> bool:
        """Wait until the replicas hold what was just stored; False when they do not (no acknowledgement).

        Redis replicates after it answers, so a master that dies at once would take the message with it;
        the platform that got 200 would not send it again. Refused (503), the platform retries: to a
        surviving master the retry is a duplicate (dropped, the stored message is handled once), to a
        promoted replica that never got it, the message is stored anew. With fewer replicas connected
        than asked for (the last one died too), the replicas there are enough: refusing every message
        until a replica returns would lose the service, not save a message.
        """
        if held >= self.wait_replicas:
            return True
        node = await for_slot(self._redis, self._keys.inbound_queue(conversation))
        connected = int((await node.info("replication")).get("connected_slaves", 0))
        if held >= min(self.wait_replicas, connected):
            throttled.warning(log, "fewer replicas than REDIS_WAIT_REPLICAS", extra={"connected": connected})
            return True
        throttled.warning(
            log,
            "message not yet on a replica; acknowledgement refused",
            extra={"conversation": conversation, "replicas": held},
        )
        return False

    async def _admit(self, conversation: str) -> None:
        """Refuse a message while the backlog is full: the platform retries it later (503 + Retry-After)."""
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.zcard(self._keys.inbound_active)
            pipe.xlen(self._keys.inbound_queue(conversation))
            waiting, queued = await pipe.execute()
        if int(queued) >= MAX_WAITING_PER_CONVERSATION or (
            int(queued) == 0 and int(waiting) >= self.backlog_limit
        ):
            throttled.warning(
                log,
                "backlog full; message refused",
                extra={"conversation": conversation, "waiting": waiting, "queued": queued},
            )
            raise Overloaded("too many messages are waiting; retry shortly")

    def kick(self, conversation: str) -> None:
        """Make sure a local worker drains the conversation's queue (no-op if one is running)."""
        self._local.kick(conversation)

    def start(self) -> None:
        """Start pulling announced conversations (also started by the first submit)."""
        self._ready.start()

    async def _free_turn(self) -> None:
        async with self._turns:
            pass

    async def _run_pulled(self, conversation: str) -> None:
        self.kick(conversation)
        # The runner stays busy while its conversation is handled: a process pulls at most as many
        # conversations as it runs turns at once. (No worker: a kick that starts none, as in the tests'
        # crashed instance; the runner must survive it.)
        if (task := self._workers.get(conversation)) is not None:
            await asyncio.wait([task])

    async def _drain(self, conversation: str) -> None:
        # Renewed while a message is handled (however long Rasa's lock or the model takes), so no
        # second worker ever takes a live worker's conversation; a dead one's lapses in seconds.
        lease = Lease(self._redis, self._keys.inbound_lease(conversation))

        async def take(entry_id: str, fields: dict[str, str]) -> None:
            await self._take(conversation, entry_id, fields.get("m"))

        stream = self._keys.inbound_queue(conversation)
        try:
            await self._drainer.drain(lease, stream, conversation, take)
        except asyncio.CancelledError:
            raise
        except Exception:
            # Redis trouble: the messages stay queued and the sweep retries them.
            log.exception("inbound worker stopped", extra={"conversation": conversation})

    async def _take(self, conversation: str, entry_id: str, raw: str | None) -> None:
        """Handle one stored message, then queue its replies and take it off the stream in one step."""
        tries_key = self._keys.inbound_tries(conversation)
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hincrby(tries_key, entry_id, 1)
            pipe.expire(tries_key, DEDUP_TTL_SECONDS)
            tries = int((await pipe.execute())[0])
        replies: Sequence[Outbound] = ()
        if raw is not None:
            inbound = replace(_decode(raw), replayed=tries > 1)
            if tries > MAX_TAKES:
                # Its worker died twice while handling it: keep it aside rather than risk a third.
                log.error("message taken over twice; kept aside", extra={"conversation": conversation})
                await self._keep_aside(inbound, "taken over twice")
            else:
                # Few turns at a time: the webhooks share this event loop and must still be answered
                # within the platforms' deadlines while a backlog is worked off.
                async with self._turns:
                    replies = await self._handle_one(entry_id, inbound)
        if replies:
            await self._pushes.listed(conversation)
        # The replies are queued for sending in the transaction that removes the message, so a death
        # at any point either replays the message (nothing was queued) or has nothing left to replay.
        async with self._redis.pipeline(transaction=True, shard_hint=tries_key) as pipe:
            for message in replies:
                self._pushes.stage(pipe, conversation, message)
            pipe.xdel(self._keys.inbound_queue(conversation), entry_id)
            pipe.hdel(tries_key, entry_id)
            await pipe.execute()
        if replies:
            self._pushes.kick(conversation)

    async def _keep_aside(self, inbound: Inbound, reason: str) -> None:
        fields = {"m": _encode(inbound), "conversation": inbound.conversation_id, "reason": reason}
        fields["at"] = str(int(time.time()))
        await self._redis.xadd(self._keys.inbound_dead, fields, maxlen=10_000, approximate=True)

    async def _handle_one(self, entry_id: str, inbound: Inbound) -> Sequence[Outbound]:
        """Run the handler (retrying failures); return the replies left for the outbox to push."""
        conversation = inbound.conversation_id
        attempt = 0
        replies: list[Outbound] = []

        async def collect(message: Outbound) -> None:
            replies.append(message)

        while True:
            replies.clear()
            try:
                await self._handle(inbound, collect)
                break
            except EngineNotReady:
                await asyncio.sleep(RETRY_BASE_SECONDS)  # the model is loading: wait, never give up
            except _STOP_HERE:
                # Redis is away: stop here, the message stays queued and the sweep retries it once
                # Redis is back (retrying here could outlive the lease and meet a second worker).
                raise
            except Exception:
                attempt += 1
                if attempt >= HANDLE_ATTEMPTS:
                    # Kept, not dropped: an operator can see and replay it.
                    log.exception("message could not be handled", extra={"conversation": conversation})
                    await self._keep_aside(inbound, "handling failed")
                    return ()
                log.warning("message handling failed; retrying", exc_info=True, extra={"attempt": attempt})
                await asyncio.sleep(RETRY_BASE_SECONDS * 2 ** (attempt - 1))
        waiter = self._waiters.pop((conversation, entry_id), None)
        if waiter is not None and not waiter.future.done():
            if waiter.passive(replies):
                waiter.future.set_result(list(replies))
                return ()
            # Not for a passive reply: let the webhook answer now; the outbox sends these.
            waiter.future.set_result(None)
        return replies

    async def recover(self, limit: int = 100) -> int:
        """Start workers for conversations whose queue has waited too long (its worker died)."""
        cutoff = time.time() - RECOVER_AFTER_SECONDS
        stale = await self._redis.zrangebyscore(self._keys.inbound_active, "-inf", cutoff, start=0, num=limit)
        for conversation in stale:
            self.kick(conversation)
        return len(stale)

    async def idle(self) -> None:
        """Wait until nothing announced is left to pull and the local workers have drained their queues."""
        while True:
            if tasks := [t for t in self._workers.values() if not t.done()]:
                await asyncio.gather(*tasks, return_exceptions=True)
            elif await self._ready.waiting():
                await asyncio.sleep(0.01)
            else:
                return

    async def close(self) -> None:
        """Stop local workers; their unfinished messages stay queued for another instance."""
        await self._ready.close()
        await stop_tasks(*self._workers.values())
        self._workers.clear()
