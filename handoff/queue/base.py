"""The queue's shared parts: its Redis client, scripts, key names, tickets and agent events."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from core.keys import Keys
from core.ports import Observe, Presence, PresenceIgnored, observe_nothing
from core.redis import AsyncRedis
from core.state import ConversationStates
from handoff.queue.models import QueueSettings, Ticket
from handoff.queue.scripts import (
    ACCEPT,
    CANCEL,
    CLAIM,
    CLAIM_HEAD,
    CREATE,
    FINISH,
    LOST,
    REFRESH,
    REQUEUE,
    TAKE,
    TOLD,
)


class _QueueBase:
    """The client, the scripts, key names, tickets and agent events every layer uses."""

    def __init__(
        self,
        client: AsyncRedis,
        prefix: str,
        states: ConversationStates,
        settings: QueueSettings | None = None,
        observe: Observe = observe_nothing,
        presence: Presence | None = None,
    ) -> None:
        """Use ``client`` for keys under ``prefix``; ``states`` moves conversations QUEUED → AGENT.

        ``observe`` hears of each offer made to an agent, ``presence`` of each status change and
        heartbeat (the reports).
        """
        self.redis = client
        self.observe = observe
        self.presence = presence or PresenceIgnored()
        self.states = states
        self.settings = settings or QueueSettings()
        self._q = Keys(prefix).queue
        # The scripts build the availability keys from this base themselves.
        self._base = self._q.base
        self._claim = client.register_script(CLAIM)
        self._accept = client.register_script(ACCEPT)
        self._take = client.register_script(TAKE)
        self._create = client.register_script(CREATE)
        self._told = client.register_script(TOLD)
        self._cancel = client.register_script(CANCEL)
        self._lost = client.register_script(LOST)
        self._claim_head = client.register_script(CLAIM_HEAD)
        self._requeue = client.register_script(REQUEUE)
        self._finish = client.register_script(FINISH)
        self._refresh = client.register_script(REFRESH)

    async def have_tickets(self, conversation_ids: Sequence[str]) -> list[bool]:
        """Return whether each conversation has a ticket, in one round trip."""
        if not conversation_ids:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for conversation_id in conversation_ids:
                pipe.exists(self._q.ticket(conversation_id))
            return [bool(found) for found in await pipe.execute()]

    async def ticket(self, conversation_id: str) -> Ticket | None:
        """Return a conversation's ticket, or None when it is not in the human queue."""
        data = await self.redis.hgetall(self._q.ticket(conversation_id))
        if not data:
            return None
        return Ticket(
            conversation_id=conversation_id,
            team=data["team"],
            tier=data["tier"],
            customer_id=data.get("customer_id", ""),
            first_message=data.get("first_message", ""),
            channel=data.get("channel", ""),
            enqueued_ms=int(data["enqueued_ms"]),
            score=float(data["score"]),
            status=data["status"],
            agent=data.get("agent", ""),
            dedicated_agent=data.get("dedicated_agent", ""),
            last_agent=data.get("last_agent", ""),
            attempts=int(data.get("attempts", 0)),
            transferred_from=data.get("transferred_from", ""),
        )

    def _ticket_keys(self, ticket: Ticket) -> list[str]:
        return [
            self._q.ticket(ticket.conversation_id),
            self._q.team_queue(ticket.team),
            self._q.dedicated(ticket.dedicated_agent or "-"),
            self._q.sticky(ticket.last_agent or "-"),
        ]

    def events_channel(self, agent_id: str) -> str:
        """Pub/sub channel of the agent's routing events (offered, assigned, revoked)."""
        return self._q.events(agent_id)

    async def _notify(self, agent_id: str, event: Mapping[str, str]) -> None:
        # Consoles subscribe to their agent's channel on whichever instance they are connected to.
        await self.redis.publish(self.events_channel(agent_id), json.dumps(dict(event)))
