"""The handoff service: moves conversations to the human queue and holds messages for agents."""

from __future__ import annotations

import time

from bot.keys import PENDING_MAXLEN, Keys
from bot.redis_conn import AsyncRedis
from bot.state import ConversationStates, IllegalTransition, Owner, Transition
from handoff.queue import HandoffQueue, Position


class HandoffService:
    """Request a human for a conversation and keep what the customer says while waiting."""

    def __init__(
        self,
        client: AsyncRedis,
        keys: Keys,
        states: ConversationStates,
        queue: HandoffQueue | None = None,
        team: str = "support",
    ) -> None:
        """Use one Redis client, the shared state machine and (when given) the human queue."""
        self._redis = client
        self._keys = keys
        self._states = states
        self.queue = queue
        self.team = team

    async def request_human(
        self, conversation_id: str, reason: str, actor: str = "bot", first_message: str = ""
    ) -> Transition:
        """Queue the conversation for a human; asking twice changes nothing the second time."""
        try:
            # Only a bot conversation is queued: an agent's conversation must not fall back into the queue.
            transition = await self._states.transition(
                conversation_id, Owner.QUEUED, actor=actor, reason=reason, expected=Owner.BOT
            )
            if self.queue is not None:
                # Idempotent: a retry after a crash between the two steps keeps the first place.
                await self.queue.enqueue(
                    conversation_id,
                    team=self.team,
                    channel=conversation_id.partition(":")[0],
                    first_message=first_message,
                )
            return transition
        except IllegalTransition:
            current = await self._states.get(conversation_id)
            now_ms = int(time.time() * 1000)
            return Transition(conversation_id, current, current, False, actor, reason, now_ms)

    async def position(self, conversation_id: str) -> Position | None:
        """Return the customer's place in the queue and the expected wait (None without a queue)."""
        return await self.queue.position(conversation_id) if self.queue is not None else None

    async def hold_customer_message(
        self, conversation_id: str, text: str, channel: str, message_id: str | None
    ) -> str:
        """Append a customer's message to the conversation's pending stream and return its stream id."""
        return str(
            await self._redis.xadd(
                self._keys.pending_messages(conversation_id),
                {
                    "text": text,
                    "channel": channel,
                    "message_id": message_id or "",
                    "at": str(int(time.time() * 1000)),
                },
                maxlen=PENDING_MAXLEN,
                approximate=True,
            )
        )

    async def pending_messages(self, conversation_id: str) -> list[dict[str, str]]:
        """Return the messages held for agents, oldest first."""
        entries = await self._redis.xrange(self._keys.pending_messages(conversation_id))
        return [dict(fields) for _id, fields in entries]
