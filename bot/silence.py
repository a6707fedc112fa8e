"""Close conversations whose customer went silent: warn once, then close with the rating prompt.

Only a conversation whose agent spoke last counts as waiting on the customer; one where the customer
spoke last is waiting on the agent and is never closed for silence.
"""

from __future__ import annotations

import contextlib
import logging
import time

from aiohttp import web

from bot import agent_api
from bot.keys import Keys
from bot.language import detect_language
from bot.state import IllegalTransition, Owner
from bot.transcript import Line

log = logging.getLogger(__name__)

WARNING = {
    "zh": "您已有一段时间没有回复，如果 {minutes} 分钟内仍未回复，本次会话将自动结束。",
    "en": "We haven't heard from you for a while; this chat will end in {minutes} min without a reply.",
}
CLOSED = {
    "zh": "由于您长时间未回复，本次会话已结束。如需帮助，随时给我们发消息。",
    "en": "This conversation has ended as we didn't hear back from you. Message us any time.",
}


def warn_before(timeout_seconds: float) -> float:
    """Return how long before closing the customer is warned (a third of the timeout, at most 5 min)."""
    return min(300.0, timeout_seconds / 3)


async def close_silent(
    app: web.Application, keys: Keys, timeout_seconds: float, now_ms: int | None = None
) -> int:
    """Warn or close every held conversation silent past its time; return how many were closed."""
    now = now_ms if now_ms is not None else int(time.time() * 1000)
    queue, transcripts = app[agent_api.QUEUE], app[agent_api.TRANSCRIPTS]
    closed = 0
    for agent in await queue.agents():
        for conversation_id in await queue.conversations_of(agent.id):
            ticket = await queue.ticket(conversation_id)
            if ticket is None or ticket.status != "assigned":
                continue
            lines = [
                x for x in await transcripts.read(conversation_id, 50) if x.role in ("customer", "agent")
            ]
            if not lines or lines[-1].role != "agent":
                continue  # the customer spoke last: the agent owes the reply
            silent_ms = now - lines[-1].at_ms
            if silent_ms >= timeout_seconds * 1000:
                with contextlib.suppress(IllegalTransition):
                    await agent_api.close_conversation(
                        app, ticket, "system", "customer silent", CLOSED, expected=Owner.AGENT
                    )
                    closed += 1
                    log.info("closed for silence", extra={"conversation": conversation_id})
            elif silent_ms >= (timeout_seconds - warn_before(timeout_seconds)) * 1000:
                # Once per agent message, whichever instance gets here first.
                marker = keys.silence_warned(conversation_id, lines[-1].id)
                if await queue.redis.set(marker, "1", nx=True, ex=24 * 3600):
                    minutes = max(1, round((timeout_seconds * 1000 - silent_ms) / 60_000))
                    language = _language(lines)
                    text = WARNING[language].format(minutes=minutes)
                    await app[agent_api.DELIVER](conversation_id, text, "")
                    await transcripts.append(conversation_id, "system", text)
    return closed


def _language(lines: list[Line]) -> str:
    said = [x.text for x in lines if x.role == "customer"]
    return next((lang for lang in map(detect_language, reversed(said)) if lang), "zh")
