"""The conversation ownership state machine: BOT → QUEUED → AGENT → CLOSED → BOT, atomic in Redis."""

from __future__ import annotations

import enum
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from core.keys import TRANSITION_LOG_MAXLEN, TRANSITION_LOG_TTL_SECONDS, Keys
from core.redis import AsyncRedis

log = logging.getLogger(__name__)


class Owner(str, enum.Enum):
    """Who owns a conversation; only a BOT conversation reaches Rasa."""

    BOT = "BOT"
    QUEUED = "QUEUED"
    AGENT = "AGENT"
    CLOSED = "CLOSED"


# Every legal move. QUEUED → BOT: the customer gave up waiting or left a message; BOT → AGENT: an agent
# takes over proactively; AGENT → QUEUED: transfer or the agent vanished; QUEUED → CLOSED: closed unserved.
ALLOWED: dict[Owner, frozenset[Owner]] = {
    Owner.BOT: frozenset({Owner.QUEUED, Owner.AGENT}),
    Owner.QUEUED: frozenset({Owner.AGENT, Owner.BOT, Owner.CLOSED}),
    Owner.AGENT: frozenset({Owner.CLOSED, Owner.QUEUED}),
    Owner.CLOSED: frozenset({Owner.BOT}),
}

# KEYS: state hash, log stream. ARGV: target, allowed sources (",A,B,"), actor, reason, now (ms),
# log maxlen, log ttl, expected current state ("" = any).
# Returns {previous state, outcome, since}: outcome 1 changed, 0 already there (a retry), -1 not in
# expected, -2 illegal; since = when the conversation came to the previous state (ms, '' if unknown).
_TRANSITION_LUA = """
local state = redis.call('HMGET', KEYS[1], 'owner', 'since')
local current, since = state[1], state[2] or ''
if not current then current = 'BOT' end
if current == ARGV[1] then return {current, 0, since} end
if ARGV[8] ~= '' and current ~= ARGV[8] then return {current, -1, since} end
if not string.find(ARGV[2], ',' .. current .. ',', 1, true) then return {current, -2, since} end
redis.call('HSET', KEYS[1], 'owner', ARGV[1], 'since', ARGV[5], 'actor', ARGV[3], 'reason', ARGV[4])
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[6], '*',
  'from', current, 'to', ARGV[1], 'actor', ARGV[3], 'reason', ARGV[4], 'at', ARGV[5])
redis.call('EXPIRE', KEYS[2], ARGV[7])
return {current, 1, since}
"""


class IllegalTransition(Exception):
    """A transition the state machine does not allow from the conversation's current state."""


@dataclass(frozen=True)
class Transition:
    """The outcome of one transition request, or one entry of the log."""

    conversation_id: str
    previous: Owner
    current: Owner
    changed: bool
    actor: str
    reason: str
    at_ms: int
    # When the conversation came to ``previous`` (0 when unknown): how long it stayed with that owner.
    previous_since_ms: int = 0


def owner_of(raw: str | None) -> Owner:
    """Return the owner stored in the state hash's ``owner`` field; a conversation never seen is the bot's."""
    return Owner(raw) if raw else Owner.BOT


class ConversationStates:
    """Read and move conversations between owners; every change is atomic and logged."""

    def __init__(self, client: AsyncRedis, keys: Keys) -> None:
        """Use ``client`` (decoded responses) for keys under ``keys``."""
        self._redis = client
        self._keys = keys
        self._script = client.register_script(_TRANSITION_LUA)
        self._listeners: list[Callable[[Transition], Awaitable[None]]] = []

    def listen(self, listener: Callable[[Transition], Awaitable[None]]) -> None:
        """Call ``listener`` after every transition that changed something (channels mirror owners)."""
        self._listeners.append(listener)

    async def get(self, conversation_id: str) -> Owner:
        """Return the conversation's owner; a conversation never seen is the bot's."""
        return owner_of(await self._redis.hget(self._keys.conversation_state(conversation_id), "owner"))

    async def transition(
        self,
        conversation_id: str,
        target: Owner,
        *,
        actor: str,
        reason: str,
        expected: Owner | None = None,
    ) -> Transition:
        """Move the conversation to ``target``.

        Repeating a transition that already happened changes nothing and reports ``changed=False``, so a
        retried webhook or a double click is harmless. Raise IllegalTransition for a move the table
        forbids or when the state is not ``expected``.
        """
        sources = ",".join(s.value for s, targets in ALLOWED.items() if target in targets)
        now_ms = int(time.time() * 1000)
        if target is Owner.QUEUED:
            # Indexed before the move (a superset: the repair drops what is not QUEUED), so a crash
            # between the move and the queue's ticket can be found and mended by any instance.
            await self._redis.zadd(self._keys.queued_index, {conversation_id: now_ms}, nx=True)
        previous, outcome, since = await self._script(
            keys=[
                self._keys.conversation_state(conversation_id),
                self._keys.transition_log(conversation_id),
            ],
            args=[
                target.value,
                f",{sources},",
                actor,
                reason,
                now_ms,
                TRANSITION_LOG_MAXLEN,
                TRANSITION_LOG_TTL_SECONDS,
                expected.value if expected else "",
            ],
        )
        if int(outcome) < 0:
            raise IllegalTransition(
                f"{conversation_id}: {previous} → {target.value} refused"
                + (f" (expected {expected.value})" if int(outcome) == -1 and expected else "")
            )
        changed, since_ms = int(outcome) == 1, int(since) if since else 0
        transition = Transition(
            conversation_id, Owner(previous), target, changed, actor, reason, now_ms, since_ms
        )
        if transition.previous is Owner.QUEUED and target is not Owner.QUEUED:
            await self._redis.zrem(self._keys.queued_index, conversation_id)
        if transition.changed:
            for listener in self._listeners:
                try:
                    await listener(transition)
                except Exception:  # a listener's trouble must not undo or fail the transition
                    log.exception("transition listener failed", extra={"conversation": conversation_id})
        return transition

    async def owners(self, conversation_ids: Sequence[str]) -> list[Owner]:
        """Return each conversation's owner, read in one round trip (the sweep reads hundreds at a peak)."""
        if not conversation_ids:
            return []
        async with self._redis.pipeline(transaction=False) as pipe:
            for conversation_id in conversation_ids:
                pipe.hget(self._keys.conversation_state(conversation_id), "owner")
            return [owner_of(raw) for raw in await pipe.execute()]

    async def queued_before(self, before_ms: int, limit: int = 500) -> list[str]:
        """Return conversations indexed as QUEUED since before ``before_ms`` (may include stale ones)."""
        return list(await self._redis.zrangebyscore(self._keys.queued_index, "-inf", before_ms, 0, limit))

    async def unindex_queued(self, conversation_id: str) -> None:
        """Drop a conversation from the QUEUED index (it is not QUEUED any more)."""
        await self._redis.zrem(self._keys.queued_index, conversation_id)

    async def history(self, conversation_id: str, count: int = 100) -> list[Transition]:
        """Return the conversation's most recent transitions, oldest first."""
        entries = await self._redis.xrevrange(self._keys.transition_log(conversation_id), count=count)
        return [
            Transition(
                conversation_id,
                Owner(fields["from"]),
                Owner(fields["to"]),
                True,
                fields["actor"],
                fields["reason"],
                int(fields["at"]),
            )
            for _id, fields in reversed(entries)
        ]
