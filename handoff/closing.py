"""Close held conversations: by an agent, or for the customer's silence (warn once, then close).

Either way the slot frees up, the agent is remembered for sticky routing and the customer is asked for
a rating in the language they last wrote in. Only a conversation whose agent spoke last counts as waiting
on the customer; one where the customer spoke last is waiting on the agent and never closes for silence.
"""

from __future__ import annotations

import contextlib
import logging
import time

from core.keys import SILENCE_WARNED_TTL_SECONDS, Keys
from core.language import detect_language
from core.ports import Deliver
from core.state import ConversationStates, IllegalTransition, Owner
from core.transcript import Line, Transcripts
from handoff.csat import Csat, prompt
from handoff.profiles import Profiles
from handoff.quality import Quality
from handoff.queue import HandoffQueue, Ticket

log = logging.getLogger(__name__)

WARNING = {
    "zh": "您已有一段时间没有回复，如果 {minutes} 分钟内仍未回复，本次会话将自动结束。",
    "en": "We haven't heard from you for a while; this chat will end in {minutes} min without a reply.",
}
CLOSED = {
    "zh": "由于您长时间未回复，本次会话已结束。如需帮助，随时给我们发消息。",
    "en": "This conversation has ended as we didn't hear back from you. Message us any time.",
}
ENDED = {
    "zh": "您已结束本次会话，感谢您的咨询。如需帮助，随时给我们发消息。",
    "en": "You have ended this chat. Thank you for contacting us; message us any time.",
}


def warn_before(timeout_seconds: float) -> float:
    """Return how long before closing the customer is warned (a third of the timeout, at most 5 min)."""
    return min(300.0, timeout_seconds / 3)


def last_language(lines: list[Line]) -> str:
    """Return the language the customer last wrote in (Chinese when nothing says)."""
    said = [x.text for x in lines if x.role == "customer"]
    return next((lang for lang in map(detect_language, reversed(said)) if lang), "zh")


class Closing:
    """Close a held conversation and ask its customer for a rating."""

    def __init__(
        self,
        keys: Keys,
        states: ConversationStates,
        queue: HandoffQueue,
        transcripts: Transcripts,
        profiles: Profiles,
        csat: Csat,
        deliver: Deliver,
        quality: Quality | None = None,
    ) -> None:
        self._keys = keys
        self._quality = quality
        self._states = states
        self._queue = queue
        self._transcripts = transcripts
        self._profiles = profiles
        self._csat = csat
        self._deliver = deliver

    async def close(
        self,
        ticket: Ticket,
        actor: str,
        reason: str,
        notice: dict[str, str] | None = None,
        expected: Owner | None = None,
    ) -> bool:
        """Close a held conversation: free the slot, remember the agent, ask the customer for a rating.

        ``notice`` (by language) is told to the customer before the rating prompt. Raises IllegalTransition
        when the conversation is not in ``expected`` (when given) or cannot close from where it is.
        Returns False, doing nothing more, when another close got there first (a double click, or two
        instances' silence sweeps): the customer hears the notice and the rating prompt once.
        """
        conversation_id = ticket.conversation_id
        moved = await self._states.transition(
            conversation_id, Owner.CLOSED, actor=actor, reason=reason, expected=expected
        )
        if not moved.changed:
            return False
        handled = max(0.0, time.time() - ticket.enqueued_ms / 1000)
        await self._queue.finish(conversation_id, ticket.agent, handled_seconds=handled)
        if ticket.customer_id:
            # Next time this customer asks for a human, this agent is tried first (sticky routing).
            await self._profiles.served_by(ticket.customer_id, ticket.agent)
        if self._quality is not None and ticket.agent:
            await self._quality.closed(conversation_id, ticket.agent)
        transcripts = self._transcripts
        await transcripts.append(
            conversation_id, "system", "会话已结束 / conversation closed", actor.removeprefix("agent:")
        )
        language = last_language(await transcripts.read(conversation_id, 50))
        if notice:
            await self._deliver(conversation_id, notice[language], "")
            await transcripts.append(conversation_id, "system", notice[language])
        await self._csat.offer(conversation_id, ticket.agent, ticket.channel, ticket.tier, language)
        text, buttons = prompt(language)
        await self._deliver(conversation_id, text, "", buttons)
        await transcripts.append(conversation_id, "system", text)
        return True

    async def end_by_customer(self, ticket: Ticket) -> bool:
        """Close at the customer's request (结束会话): told, asked for a rating, the agent's slot freed."""
        with contextlib.suppress(IllegalTransition):
            return await self.close(ticket, "customer", "closed by customer", ENDED, expected=Owner.AGENT)
        return False

    async def close_silent(self, timeout_seconds: float, now_ms: int | None = None) -> int:
        """Warn or close every held conversation silent past its time; return how many were closed."""
        now = now_ms if now_ms is not None else int(time.time() * 1000)
        closed = 0
        for agent in await self._queue.agents():
            for conversation_id in await self._queue.conversations_of(agent.id):
                ticket = await self._queue.ticket(conversation_id)
                if ticket is None or ticket.status != "assigned":
                    continue
                lines = [
                    x
                    for x in await self._transcripts.read(conversation_id, 50)
                    if x.role in ("customer", "agent")
                ]
                if not lines or lines[-1].role != "agent":
                    continue  # the customer spoke last: the agent owes the reply
                silent_ms = now - lines[-1].at_ms
                if silent_ms >= timeout_seconds * 1000:
                    with contextlib.suppress(IllegalTransition):
                        if await self.close(
                            ticket, "system", "customer silent", CLOSED, expected=Owner.AGENT
                        ):
                            closed += 1
                            log.info("closed for silence", extra={"conversation": conversation_id})
                elif silent_ms >= (timeout_seconds - warn_before(timeout_seconds)) * 1000:
                    await self._warn(conversation_id, lines, timeout_seconds * 1000 - silent_ms)
        return closed

    async def _warn(self, conversation_id: str, lines: list[Line], left_ms: float) -> None:
        # Once per agent message, whichever instance gets here first.
        marker = self._keys.silence_warned(conversation_id, lines[-1].id)
        if await self._queue.redis.set(marker, "1", nx=True, ex=SILENCE_WARNED_TTL_SECONDS):
            minutes = max(1, round(left_ms / 60_000))
            text = WARNING[last_language(lines)].format(minutes=minutes)
            await self._deliver(conversation_id, text, "")
            await self._transcripts.append(conversation_id, "system", text)
