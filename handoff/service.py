"""The handoff service: moves conversations to the human queue and holds messages for agents."""

from __future__ import annotations

import logging
import time
from collections.abc import Collection

from core.keys import KB_MISSES_TTL_SECONDS, PENDING_MAXLEN, Keys
from core.redis import AsyncRedis
from core.state import ConversationStates, IllegalTransition, Owner, Transition
from handoff import updates
from handoff.complaints import Case, Complaints
from handoff.csat import LEVELS, Csat, Rating, prompt
from handoff.hours import Closed, Hours
from handoff.offline import OfflineMessage, OfflineMessages
from handoff.profiles import Profiles
from handoff.quality import Quality
from handoff.queue import HandoffQueue, Position, Ticket

log = logging.getLogger(__name__)

# Ratings at or below this (不满意, 非常不满意) open a complaint case.
LOW_RATING = 2

# What ``take_over`` returns: the queue's claim codes, plus one for a conversation that is not the bot's.
TAKEN, ALREADY_HELD, AGENT_UNAVAILABLE, AGENT_FULL, NOT_WITH_BOT = 1, 0, -1, -2, -3
TAKE_REFUSED = {
    ALREADY_HELD: "the conversation is already queued or held by an agent",
    NOT_WITH_BOT: "the bot is not handling this conversation (queued, held or closed)",
    AGENT_UNAVAILABLE: "go online first",
    AGENT_FULL: "you are at your capacity",
}


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
        kb_misses_to_handoff: int = 2,
        direct_tiers: Collection[str] = (),
        hours: Hours | None = None,
        offline: OfflineMessages | None = None,
        max_wait_seconds: float = 600.0,
        csat: Csat | None = None,
        complaints: Complaints | None = None,
        quality: Quality | None = None,
    ) -> None:
        """Use one Redis client, the shared state machine and (when given) the queue and profiles.

        ``kb_misses_to_handoff`` knowledge-base misses in a row queue the customer without asking (0: never);
        customers whose tier is in ``direct_tiers`` skip the bot altogether.
        """
        if kb_misses_to_handoff < 0:
            raise ValueError("kb_misses_to_handoff must be 0 (off) or more")
        self.hours = hours
        self.csat = csat
        self.complaints = complaints
        self.quality = quality
        self.offline = offline
        self.max_wait_seconds = max_wait_seconds
        self.kb_misses_to_handoff = kb_misses_to_handoff
        self.direct_tiers = frozenset(direct_tiers)
        self.profiles = profiles
        self._redis = client
        self._keys = keys
        self._states = states
        self.queue = queue
        self.team = team

    async def _routing_profile(self, conversation_id: str) -> tuple[str, str, str, str]:
        """Return the customer's tier, profile id, dedicated agent and last agent (plain without profiles)."""
        if self.profiles is None:
            return "regular", "", "", ""
        profile = await self.profiles.for_identity(conversation_id)
        return profile.tier, profile.id, profile.dedicated_agent, profile.last_agent

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
                place = await self._enqueue(self.queue, conversation_id, first_message)
                if place.position > 0:
                    # The customer is told this place now; later updates are measured from it.
                    await updates.record(self.queue, conversation_id, place)
            return transition
        except IllegalTransition:
            current = await self._states.get(conversation_id)
            now_ms = int(time.time() * 1000)
            return Transition(conversation_id, current, current, False, actor, reason, now_ms)

    async def open_complaint(self, conversation_id: str, text: str, language: str) -> Case | None:
        """Record a complaint as a case, one per customer and conversation (None when cases are off)."""
        channel = conversation_id.partition(":")[0]
        return await self._open_case(conversation_id, text, "bot", channel, language)

    async def rating_complaint(self, rating: Rating) -> Case | None:
        """Open a case for a 不满意 / 非常不满意 rating, about that conversation and its agent."""
        if rating.score > LOW_RATING:
            return None
        label = next(zh for score, zh, _ in LEVELS if score == rating.score)
        description = f"满意度评价：{label}（客服 {rating.agent or '机器人'}）"
        return await self._open_case(
            rating.conversation_id,
            description,
            "rating",
            rating.channel,
            rating.language,
            "服务态度",
            rating.agent,
        )

    async def _open_case(
        self,
        conversation_id: str,
        description: str,
        actor: str,
        channel: str,
        language: str,
        category: str | None = None,
        agent: str = "",
    ) -> Case | None:
        if self.complaints is None:
            return None
        if category not in self.complaints.policy.categories:
            category = None  # a configured list without it: the policy's default
        _, customer, _, _ = await self._routing_profile(conversation_id)
        case, _ = await self.complaints.open(
            customer or conversation_id,
            conversation_id,
            description,
            channel=channel,
            team=self.team,
            actor=actor,
            category=category,
            language=language,
            agent=agent,
        )
        if self.quality is not None:
            # Every conversation with a complaint or a low rating is inspected: now when an agent served
            # it, else once an agent has closed it.
            if agent and agent != "bot":
                await self.quality.consider(
                    conversation_id, agent, "low_rating" if actor == "rating" else "complaint"
                )
            else:
                await self.quality.flag(conversation_id)
        return case

    async def _enqueue(self, queue: HandoffQueue, conversation_id: str, first_message: str = "") -> Position:
        """Queue a QUEUED conversation for the handoff team, routed by its customer's profile."""
        # The profile decides the priority and who is tried first (dedicated, then last agent).
        tier, customer, dedicated, last = await self._routing_profile(conversation_id)
        # Idempotent: a retry after a crash between the two steps keeps the first place.
        return await queue.enqueue(
            conversation_id,
            team=self.team,
            tier=tier,
            customer_id=customer,
            channel=conversation_id.partition(":")[0],
            first_message=first_message,
            dedicated_agent=dedicated,
            last_agent=last,
        )

    async def outside_hours(self) -> Closed | None:
        """Return when the handoff team opens next while it is closed (None while open)."""
        return await self.hours.closed(self.team) if self.hours is not None else None

    async def start_offline_message(self, conversation_id: str, language: str) -> None:
        """Take the customer's next message as a message for the agents (留言)."""
        if self.offline is None:
            raise RuntimeError("no left-message store")
        await self.offline.start(conversation_id, self.team, language)

    async def reopen(self, conversation_id: str) -> Transition:
        """Give a closed conversation back to the bot: the customer wrote again after the close."""
        return await self._states.transition(
            conversation_id,
            Owner.BOT,
            actor="customer",
            reason="message after close",
            expected=Owner.CLOSED,
        )

    async def leave_queue(self, conversation_id: str, language: str) -> bool:
        """Stop waiting and leave a message instead; False once an agent is already on the way."""
        if self.queue is None or self.offline is None:
            return False
        ticket = await self.queue.ticket(conversation_id)
        if ticket is None or not await self.queue.cancel(conversation_id):
            return False
        try:
            await self._states.transition(
                conversation_id,
                Owner.BOT,
                actor="customer",
                reason="left the queue to leave a message",
                expected=Owner.QUEUED,
            )
        except IllegalTransition:
            return False
        await self.offline.start(conversation_id, ticket.team, language)
        return True

    async def take_offline_message(
        self, conversation_id: str, text: str
    ) -> tuple[OfflineMessage, str] | None:
        """Store ``text`` as the customer's message when they were about to leave one (and the language)."""
        if self.offline is None:
            return None
        return await self.take_offline_message_for(
            conversation_id, text, await self.offline.leaving(conversation_id)
        )

    async def take_offline_message_for(
        self, conversation_id: str, text: str, leaving: tuple[str, str] | None
    ) -> tuple[OfflineMessage, str] | None:
        """Do `take_offline_message` with the marker already read (``leaving``: team and language)."""
        if self.offline is None or leaving is None or not text.strip():
            return None
        team, language = leaving
        tier = (await self._routing_profile(conversation_id))[0]
        message = await self.offline.add(conversation_id, team, text, tier, conversation_id.partition(":")[0])
        return message, language

    async def offer_rating(
        self, conversation_id: str, language: str
    ) -> tuple[str, list[tuple[str, str]]] | None:
        """Remember a rating prompt for a bot-only conversation (agent ``bot``) and return it."""
        if self.csat is None:
            return None
        tier = (await self._routing_profile(conversation_id))[0]
        await self.csat.offer(conversation_id, "bot", conversation_id.partition(":")[0], tier, language)
        return prompt(language)

    async def kb_outcome(self, conversation_id: str, escalated: bool) -> bool:
        """Count the knowledge base's misses in a row; True when this miss should bring a human."""
        key = self._keys.kb_misses(conversation_id)
        if not escalated:
            await self._redis.delete(key)
            return False
        async with self._redis.pipeline(transaction=True, shard_hint=key) as pipe:
            pipe.incr(key)
            pipe.expire(key, KB_MISSES_TTL_SECONDS)
            misses, _ = await pipe.execute()
        if self.kb_misses_to_handoff and int(misses) >= self.kb_misses_to_handoff:
            await self._redis.delete(key)
            return True
        return False

    async def direct_by_rule(self, conversation_id: str, first_message: str) -> Transition | None:
        """Queue a bot conversation straight away when the customer's tier skips the bot, else None."""
        if not self.direct_tiers or self.profiles is None:
            return None
        if await self.outside_hours() is not None:
            return None  # nobody to queue for: the bot helps, and offers a message if they ask
        profile = await self.profiles.for_identity(conversation_id)
        if profile.tier not in self.direct_tiers:
            return None
        return await self.request_human(
            conversation_id, f"rule: tier {profile.tier}", actor="rule", first_message=first_message
        )

    async def take_over(self, conversation_id: str, agent_id: str, team: str, last_message: str = "") -> int:
        """Give a bot conversation to an agent at once (no queue); returns one of the ``TAKEN``… codes."""
        if self.queue is None:
            raise RuntimeError("no queue")
        if await self._states.get(conversation_id) is not Owner.BOT:
            return NOT_WITH_BOT
        tier, customer, _, _ = await self._routing_profile(conversation_id)
        taken = await self.queue.take(
            conversation_id,
            agent_id,
            team=team,
            tier=tier,
            customer_id=customer,
            channel=conversation_id.partition(":")[0],
            first_message=last_message,
        )
        if taken != TAKEN:
            return taken
        # Normally the bot still has it. If the customer asked for a human meanwhile, their enqueue found
        # this ticket, so the queued conversation is the agent's too.
        for expected, reason in (
            (Owner.BOT, "taken over from the bot"),
            (Owner.QUEUED, "taken over while queueing"),
        ):
            try:
                await self._states.transition(
                    conversation_id, Owner.AGENT, actor=f"agent:{agent_id}", reason=reason, expected=expected
                )
            except IllegalTransition:
                continue
            return TAKEN
        # Closed or already an agent's by another path: free the slot again.
        await self.queue.finish(conversation_id, agent_id, handled_seconds=0.0)
        return NOT_WITH_BOT

    async def repair(self, grace_seconds: float = 10.0, now_ms: int | None = None) -> int:
        """Queue again every QUEUED conversation that has no ticket (an instance died between the two).

        Returns how many were mended. ``grace_seconds`` leaves a live request time to finish its enqueue.
        """
        if self.queue is None:
            return 0
        now = now_ms if now_ms is not None else int(time.time() * 1000)
        mended = 0
        indexed = await self._states.queued_before(now - int(grace_seconds * 1000))
        # Read in two round trips, not two per conversation: at a peak hundreds wait, and every
        # process of every instance sweeps them every few seconds.
        owners = await self._states.owners(indexed)
        queued = [c for c, owner in zip(indexed, owners, strict=True) if owner is Owner.QUEUED]
        for conversation_id, owner in zip(indexed, owners, strict=True):
            if owner is not Owner.QUEUED:
                await self._states.unindex_queued(conversation_id)
        for conversation_id, ticketed in zip(queued, await self.queue.have_tickets(queued), strict=True):
            if ticketed:
                continue
            await self._enqueue(self.queue, conversation_id)
            log.warning(
                "queued conversation without a ticket mended", extra={"conversation": conversation_id}
            )
            mended += 1
        return mended

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
