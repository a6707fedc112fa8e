"""Route each customer message by who owns the conversation: the bot (Rasa) or the human side.

A message passes an ordered list of steps, like python-telegram-bot's handler groups: each step either
answers the message (and the rest are skipped) or passes it on. The order is the product's rules:

1. a rating answers the rating prompt, whoever owns the conversation afterwards; so does the answer
   to "is your complaint solved?" (已解决 / 未解决);
2. a waiting customer may leave the queue to leave a message (留言) instead;
3. while a human owns (or is about to own) the conversation, the bot stays silent and holds the message;
4. the message a customer was about to leave is taken as their offline message;
5. the optional comment after a rating;
6. tiers that skip the bot are queued by rule;
7. everything else is the bot's turn (Rasa).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import handoff
import knowledge_base
from bot.dialogue.agent import Dialogue
from bot.wiring import Services
from core.language import detect_language
from core.messages import Button, EngineNotReady, Inbound, Outbound
from core.ports import Reply
from core.state import Owner, owner_of
from handoff import csat, notices
from handoff.csat import Rating
from handoff.offline import parse_leaving
from reports.prometheus import EngineMetrics

log = logging.getLogger(__name__)


@dataclass
class Turn:
    """One customer message on its way through the steps, with what the pre-turn reads found."""

    inbound: Inbound
    owner: Owner
    rating: Rating | None
    dialogue: Dialogue
    # Read with the owner, before any step ran: the offline-message marker and the comment window.
    leaving: tuple[str, str] | None
    comment_window: str | None
    # The complaint case the customer was last asked to confirm, if any.
    asked_case: str | None = None
    # The customer's profile (merged across channels), None until their first message made one.
    profile: str | None = None

    @property
    def conversation(self) -> str:
        """Return the conversation id."""
        return self.inbound.conversation_id


# A step answers the turn (its replies, possibly none) or returns None to pass it on.
Step = Callable[[Turn], Awaitable[Sequence[Outbound] | None]]


class Router:
    """The core's single entry point for inbound messages (the ``on_message`` every channel gets)."""

    def __init__(
        self,
        services: Services,
        dialogue: Callable[[], Dialogue | None],
        metrics: EngineMetrics | None = None,
    ) -> None:
        """Route with the deployment's services; ``dialogue`` returns the agent once it is loaded."""
        self._metrics = metrics
        self._events = services.events
        self._knowledge = services.knowledge
        self._profiles = services.profiles
        self._transcripts = services.transcripts
        self._csat = services.csat
        self._states = services.states
        self._redis = services.redis
        self._keys = services.keys
        self._handoff = services.handoff
        self._signoff = services.signoff
        self._closing = services.closing
        self._dialogue = dialogue
        self.steps: tuple[Step, ...] = (
            self._rating,
            self._case_signoff,
            self._leave_queue,
            self._customer_ends,
            self._hold_for_agent,
            self._offline_message,
            self._rating_comment,
            self._direct_to_human,
            self._bot_turn,
        )

    async def on_message(self, inbound: Inbound, reply: Reply) -> None:
        """Handle one message: the first step that answers it wins; its replies go out in order."""
        # What the turn reports (the KB's band, a handoff…) is recorded with the message, in one trip.
        async with self._events.deferring():
            await self._on_message(inbound, reply)

    async def _on_message(self, inbound: Inbound, reply: Reply) -> None:
        dialogue = self._dialogue()
        if dialogue is None:
            raise EngineNotReady("the dialogue model is still loading")
        conversation = inbound.conversation_id
        started, answered_by = time.perf_counter(), "none"
        # One lock per conversation across all instances: the owner cannot change between the check
        # and Rasa's turn, and a conversation's messages are handled one at a time, in order.
        async with dialogue.conversation_lock(conversation):
            # A replay whose first worker already wrote the customer's line got at least that far.
            recorded = inbound.replayed and await self._transcripts.has_customer_line(
                conversation, inbound.key
            )
            turn = await self._begin(inbound, dialogue, record=not recorded)
            replies: Sequence[Outbound] = ()
            # If that turn also handed the conversation over, the human side has the message already.
            steps = () if recorded and turn.owner is not Owner.BOT else self.steps
            for step in steps:
                answered = await step(turn)
                if answered is not None:
                    replies, answered_by = answered, step.__name__.lstrip("_")
                    break
            for message in replies:
                await self._transcripts.append(conversation, "bot", message.plain_text())
        log.debug("bot turn", extra={"conversation": conversation, "text": inbound.text})
        if self._metrics is not None:
            self._metrics.inbound.labels(inbound.channel).inc()
            self._metrics.turn_seconds.labels(answered_by).observe(time.perf_counter() - started)
            if replies:
                self._metrics.replies.labels(inbound.channel).inc(len(replies))
        for message in replies:
            await reply(message)
        # Reported after the replies went out: the reports never slow the customer's answer.
        key = f"{conversation}:{inbound.key}"
        by_bot = answered_by == "bot_turn" and bool(replies)
        reply_seconds = time.time() - inbound.received_at if by_bot else None
        await self._events.customer_message(
            conversation, key, customer=turn.profile, bot_reply_seconds=reply_seconds
        )

    async def _begin(self, inbound: Inbound, dialogue: Dialogue, record: bool = True) -> Turn:
        """Record the message (unless told not to) and read what every step needs, in one round trip."""
        conversation = inbound.conversation_id
        keys = self._keys
        async with self._redis.pipeline(transaction=False) as pipe:
            if record:
                self._transcripts.queue_append(
                    pipe, conversation, "customer", inbound.text, message_key=inbound.key
                )
            pipe.get(keys.identity(conversation))
            pipe.hget(keys.conversation_state(conversation), "owner")
            pipe.get(keys.csat_pending(conversation))
            pipe.get(keys.offline_leaving(conversation))
            pipe.get(keys.csat_comment(conversation))
            pipe.get(keys.complaints.asked(conversation))
            profile_id, owner_raw, pending, leaving, comment, asked = (await pipe.execute())[-6:]
        # One profile per channel identity, made on first contact; agents may merge them later.
        await self._profiles.touch(conversation, conversation, profile_id)
        owner = owner_of(owner_raw)
        rating = None
        if owner in (Owner.CLOSED, Owner.BOT):
            # The first message after a close (or the bot's goodbye) may answer the rating prompt.
            rating = await self._csat.answer_pending(conversation, inbound.text, pending)
        if owner is Owner.CLOSED:
            await self._handoff.reopen(conversation)
            owner = Owner.BOT
        return Turn(inbound, owner, rating, dialogue, parse_leaving(leaving), comment, asked, profile_id)

    def _say(self, turn: Turn, text: str) -> list[Outbound]:
        return [Outbound(turn.inbound.sender_id, text)]

    async def _rating(self, turn: Turn) -> Sequence[Outbound] | None:
        if turn.rating is None:
            return None
        text, buttons = csat.thanks(turn.rating.language)
        log.info("csat recorded", extra={"conversation": turn.conversation, "score": turn.rating.score})
        rating = turn.rating
        by_bot = rating.agent == "bot"
        for kind in ("rating", "rating_bot" if by_bot else "rating_human"):
            await self._events.observe(
                kind,
                turn.conversation,
                key=f"{turn.conversation}:{turn.inbound.received_at!r}",
                agent="" if by_bot else rating.agent,
                tier=rating.tier,
                detail=str(rating.score),
                value=float(rating.score),
            )
        case = await self._handoff.rating_complaint(turn.rating)
        if case is not None:
            text = f"{text}\n{notices.rated_low(case, turn.rating.language)}"
        return [Outbound(turn.inbound.sender_id, text, tuple(Button(t, p) for t, p in buttons))]

    async def _case_signoff(self, turn: Turn) -> Sequence[Outbound] | None:
        """Take the customer's answer to "is your complaint solved?", whoever owns the conversation."""
        if turn.asked_case is None and not turn.inbound.text.startswith("/case_"):
            return None
        reply = await self._signoff.answer(turn.conversation, turn.inbound.text, turn.asked_case)
        return None if reply is None else self._say(turn, reply)

    async def _leave_queue(self, turn: Turn) -> Sequence[Outbound] | None:
        """Let a waiting customer leave a message instead (unless an agent is already coming)."""
        if turn.owner is not Owner.QUEUED or not notices.is_leave_request(turn.inbound.text):
            return None
        queue = self._handoff.queue
        ticket = await queue.ticket(turn.conversation) if queue is not None else None
        language = detect_language(ticket.first_message if ticket else "") or "zh"
        if not await self._handoff.leave_queue(turn.conversation, language):
            return None
        return self._say(turn, notices.ask_message(language))

    async def _customer_ends(self, turn: Turn) -> Sequence[Outbound] | None:
        """End the chat with the agent when the customer asks (the close tells them and asks for a rating)."""
        if turn.owner is not Owner.AGENT or not notices.is_end_request(turn.inbound.text):
            return None
        ticket = await self._handoff.queue.ticket(turn.conversation) if self._handoff.queue else None
        if ticket is None or not await self._closing.end_by_customer(ticket):
            return None  # not with an agent after all: the message goes on as usual
        log.info("chat ended by the customer", extra={"conversation": turn.conversation})
        return []

    async def _hold_for_agent(self, turn: Turn) -> Sequence[Outbound] | None:
        if turn.owner is Owner.BOT:
            return None
        inbound = turn.inbound
        stream_id = await self._handoff.hold_customer_message(
            turn.conversation, inbound.text, inbound.channel, inbound.message_id
        )
        extra = {"conversation": turn.conversation, "owner": turn.owner.value, "stream_id": stream_id}
        log.info("message held for agent", extra=extra)
        return []

    async def _offline_message(self, turn: Turn) -> Sequence[Outbound] | None:
        left = await self._handoff.take_offline_message_for(
            turn.conversation, turn.inbound.text, turn.leaving
        )
        if left is None:
            return None
        note, language = left
        log.info("message left", extra={"conversation": turn.conversation, "left": note.id})
        await self._events.observe(
            "offline_message", turn.conversation, key=note.id, team=note.team, tier=note.tier
        )
        return self._say(turn, notices.message_left(language))

    async def _rating_comment(self, turn: Turn) -> Sequence[Outbound] | None:
        follow_up = await self._csat.follow_up_stored(
            turn.conversation, turn.inbound.text, turn.comment_window
        )
        return None if follow_up is None else self._say(turn, follow_up)

    async def _direct_to_human(self, turn: Turn) -> Sequence[Outbound] | None:
        """Queue a customer whose tier skips the bot (a rule); None lets the bot answer as usual."""
        transition = await self._handoff.direct_by_rule(turn.conversation, turn.inbound.text)
        if transition is None:
            return None
        language = detect_language(turn.inbound.text)
        lines = [notices.queued(language)]
        line = notices.position_line(await self._handoff.position(turn.conversation), language)
        if line is not None:
            lines.append(line)
        log.info("queued by rule", extra={"conversation": turn.conversation, "reason": transition.reason})
        return [Outbound(turn.inbound.sender_id, text) for text in lines]

    async def _bot_turn(self, turn: Turn) -> Sequence[Outbound]:
        with handoff.using(self._handoff), knowledge_base.using(self._knowledge):
            replies = await turn.dialogue.handle(turn.inbound)
        log.info("bot replied", extra={"conversation": turn.conversation, "replies": len(replies)})
        return replies
