"""The handoff service: moves conversations to the human queue and holds messages for agents."""

from __future__ import annotations

import time

from bot.keys import PENDING_MAXLEN, Keys
from bot.redis_conn import AsyncRedis
from bot.state import ConversationStates, IllegalTransition, Owner, Transition
from handoff.profiles import Profiles
from handoff.queue import HandoffQueue, Position, Ticket


class HandoffService:
    """Request a human for a conversation and keep what the customer says while waiting."""

    def __init__(
        self,
        client: AsyncRedis,
        keys: Keys,
        states: ConversationStates,
        queue: HandoffQueue | None = None,
        team: str = "support",
        profiles: Profiles | None = None,
    ) -> None:
        """Use one Redis client, the shared state machine and (when given) the queue and profiles."""
        self.profiles = profiles
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
                # The profile decides the priority and who is tried first (dedicated, then last agent).
                tier, customer, dedicated, last = "regular", "", "", ""
                if self.profiles is not None:
                    profile = await self.profiles.for_identity(conversation_id)
                    tier, customer = profile.tier, profile.id
                    dedicated, last = profile.dedicated_agent, profile.last_agent
                # Idempotent: a retry after a crash between the two steps keeps the first place.
                await self.queue.enqueue(
                    conversation_id,
                    team=self.team,
                    tier=tier,
                    customer_id=customer,
                    channel=conversation_id.partition(":")[0],
                    first_message=first_message,
                    dedicated_agent=dedicated,
                    last_agent=last,
                )
            return transition
        except IllegalTransition:
            current = await self._states.get(conversation_id)
            now_ms = int(time.time() * 1000)
            return Transition(conversation_id, current, current, False, actor, reason, now_ms)

    async def transfer(self, ticket: Ticket, by: str, team: str, agent: str = "") -> Position:
        """Hand an agent's conversation to another team or agent; the customer keeps their place."""
        if self.queue is None:
            raise RuntimeError("no queue")
        conversation_id = ticket.conversation_id
        target = f"agent {agent}" if agent else f"team {team}"
        await self._states.transition(
            conversation_id,
            Owner.QUEUED,
            actor=f"agent:{by}",
            reason=f"transfer to {target}",
            expected=Owner.AGENT,
        )
        handled = max(0.0, time.time() - ticket.enqueued_ms / 1000)
        await self.queue.finish(conversation_id, ticket.agent, handled_seconds=handled)
        # Queued at its original time: a transfer does not send the customer to the back of the line.
        return await self.queue.enqueue(
            conversation_id,
            team=team,
            tier=ticket.tier,
            customer_id=ticket.customer_id,
            first_message=ticket.first_message,
            channel=ticket.channel,
            dedicated_agent=agent,
            now_ms=ticket.enqueued_ms,
            transferred_from=ticket.agent,
        )

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
