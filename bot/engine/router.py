"""Route each customer message by who owns the conversation: the bot (Rasa) or the human side."""

from __future__ import annotations

import logging
from collections.abc import Callable

import handoff
import knowledge_base
from bot.dialogue.agent import Dialogue
from bot.wiring import Services
from core.language import detect_language
from core.messages import Button, EngineNotReady, Inbound, Outbound
from core.ports import Reply
from core.state import Owner
from handoff import csat, notices

log = logging.getLogger(__name__)


class Router:
    """The core's single entry point for inbound messages (the ``on_message`` every channel gets)."""

    def __init__(self, services: Services, dialogue: Callable[[], Dialogue | None]) -> None:
        """Route with the deployment's services; ``dialogue`` returns the agent once it is loaded."""
        self._knowledge = services.knowledge
        self._profiles = services.profiles
        self._transcripts = services.transcripts
        self._csat = services.csat
        self._states = services.states
        self._handoff = services.handoff
        self._dialogue = dialogue

    async def on_message(self, inbound: Inbound, reply: Reply) -> None:
        """Handle one message: Rasa answers in BOT state; otherwise it is held for the human side."""
        dialogue = self._dialogue()
        if dialogue is None:
            raise EngineNotReady("the dialogue model is still loading")
        conversation = inbound.conversation_id
        # One lock per conversation across all instances: the owner cannot change between the check
        # and Rasa's turn, and a conversation's messages are handled one at a time, in order.
        async with dialogue.conversation_lock(conversation):
            if self._transcripts is not None:
                await self._transcripts.append(conversation, "customer", inbound.text)
            if self._profiles is not None:
                # One profile per channel identity, made on first contact; agents may merge them later.
                await self._profiles.seen(conversation, conversation)
            owner = await self._states.get(conversation)
            rating = None
            if owner in (Owner.CLOSED, Owner.BOT) and self._csat is not None:
                # The first message after a close (or the bot's goodbye) may answer the rating prompt.
                rating = await self._csat.answer(conversation, inbound.text)
            if owner is Owner.CLOSED:
                await self._states.transition(
                    conversation,
                    Owner.BOT,
                    actor="customer",
                    reason="message after close",
                    expected=Owner.CLOSED,
                )
                owner = Owner.BOT
            if rating is not None:
                text, buttons = csat.thanks(rating.language)
                thanks = Outbound(inbound.sender_id, text, tuple(Button(t, p) for t, p in buttons))
                if self._transcripts is not None:
                    await self._transcripts.append(conversation, "bot", thanks.text)
                log.info("csat recorded", extra={"conversation": conversation, "score": rating.score})
                await reply(thanks)
                return
            if owner is Owner.QUEUED and notices.is_leave_request(inbound.text):
                language = await self._leave_queue(inbound)
                if language is not None:
                    await self._say(inbound, notices.ask_message(language), reply)
                    return
            if owner is not Owner.BOT:
                stream_id = await self._handoff.hold_customer_message(
                    conversation, inbound.text, inbound.channel, inbound.message_id
                )
                log.info(
                    "message held for agent",
                    extra={"conversation": conversation, "owner": owner.value, "stream_id": stream_id},
                )
                return
            left = await self._handoff.take_left_message(conversation, inbound.text)
            if left is not None:
                note, language = left
                log.info("message left", extra={"conversation": conversation, "left": note.id})
                await self._say(inbound, notices.message_left(language), reply)
                return
            follow_up = await self._csat.follow_up(conversation, inbound.text) if self._csat else None
            if follow_up is not None:
                await self._say(inbound, follow_up, reply)
                return
            ruled = await self._direct_to_human(inbound)
            if ruled is not None:
                replies = ruled
            else:
                with handoff.using(self._handoff), knowledge_base.using(self._knowledge):
                    replies = await dialogue.handle(inbound)
            if self._transcripts is not None:
                for message in replies:
                    await self._transcripts.append(conversation, "bot", message.plain_text())
        log.info("bot replied", extra={"conversation": conversation, "replies": len(replies)})
        log.debug("bot turn", extra={"conversation": conversation, "text": inbound.text})
        for message in replies:
            await reply(message)

    async def _say(self, inbound: Inbound, text: str, reply: Reply) -> None:
        """Answer with one line of our own (not Rasa's), kept in the transcript."""
        if self._transcripts is not None:
            await self._transcripts.append(inbound.conversation_id, "bot", text)
        await reply(Outbound(inbound.sender_id, text))

    async def _leave_queue(self, inbound: Inbound) -> str | None:
        """Let a waiting customer leave a message instead; their language, or None if an agent is coming."""
        queue = self._handoff.queue
        ticket = await queue.ticket(inbound.conversation_id) if queue is not None else None
        language = detect_language(ticket.first_message if ticket else "") or "zh"
        return language if await self._handoff.leave_queue(inbound.conversation_id, language) else None

    async def _direct_to_human(self, inbound: Inbound) -> list[Outbound] | None:
        """Queue a customer whose tier skips the bot (a rule); None lets the bot answer as usual."""
        transition = await self._handoff.direct_by_rule(inbound.conversation_id, inbound.text)
        if transition is None:
            return None
        language = detect_language(inbound.text)
        lines = [notices.queued(language)]
        line = notices.position_line(await self._handoff.position(inbound.conversation_id), language)
        if line is not None:
            lines.append(line)
        log.info(
            "queued by rule", extra={"conversation": inbound.conversation_id, "reason": transition.reason}
        )
        return [Outbound(inbound.sender_id, text) for text in lines]
