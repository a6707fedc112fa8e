"""What a staff member may see of a conversation, and how a ticket looks to the console."""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from handoff.queue import Ticket
from handoff.web.appkeys import QUEUE
from staff.api import session_of


async def may_read(request: web.Request, conversation_id: str) -> bool:
    """Whether the session's agent may read the conversation (theirs, their team's, or a supervisor)."""
    session = session_of(request)
    if session.has("supervisor"):
        return True
    queue = request.app[QUEUE]
    if conversation_id in await queue.conversations_of(session.username):
        return True
    ticket = await queue.ticket(conversation_id)
    agent = await queue.agent(session.username)
    return bool(ticket and agent and ticket.team in agent.teams)


async def teams_of(request: web.Request) -> set[str] | None:
    """The teams whose work (left messages, complaint cases) the session handles; None: every team."""
    session = session_of(request)
    if session.has("supervisor"):
        return None
    agent = await request.app[QUEUE].agent(session.username)
    return set(agent.teams) if agent else set()


def ticket_view(ticket: Ticket) -> dict[str, Any]:
    """Return a ticket as the console shows it."""
    return {
        "conversation": ticket.conversation_id,
        "team": ticket.team,
        "tier": ticket.tier,
        "channel": ticket.channel,
        "first_message": ticket.first_message,
        "waiting_seconds": round(max(0, time.time() * 1000 - ticket.enqueued_ms) / 1000),
        "status": ticket.status,
        "agent": ticket.agent,
    }
