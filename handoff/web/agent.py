"""The agents' JSON API: presence, the queue, accept, transcript, reply, close; and the customer outbox.

Every call checks the session and the role; an agent reads only conversations offered to or held by
them, or waiting in one of their teams, unless they are a supervisor.
"""

from __future__ import annotations

import hmac
import time
from typing import Any

from aiohttp import web

from core.state import IllegalTransition
from handoff.web.access import may_read, ticket_view
from handoff.web.appkeys import (
    CLOSING,
    DELIVER,
    OBSERVE,
    OUTBOX_TOKEN,
    QUEUE,
    STATES,
    TRANSCRIPTS,
)
from staff.api import Operation, json_object, session_of
from staff.errors import json_error

MAX_REPLY_CHARS = 4000


async def me(request: web.Request) -> web.StreamResponse:
    """Return the agent's routing record and conversations."""
    queue = request.app[QUEUE]
    name = session_of(request).username
    agent = await queue.agent(name)
    if agent is None:
        return json_error(404, "no routing record: create the user with --team and --capacity")
    await queue.heartbeat(name)
    conversations = []
    for conversation_id in sorted(await queue.conversations_of(name)):
        ticket = await queue.ticket(conversation_id)
        if ticket is not None:
            conversations.append(ticket_view(ticket))
    return web.json_response(
        {
            "id": agent.id,
            "name": agent.name,
            "teams": list(agent.teams),
            "capacity": agent.capacity,
            "status": agent.status,
            "load": agent.load,
            "conversations": conversations,
        }
    )


async def set_status(request: web.Request) -> web.StreamResponse:
    """Go online, pause or go offline (offline hands the agent's conversations back to the queue)."""
    body = await json_object(request)
    try:
        placements = await request.app[QUEUE].set_status(
            session_of(request).username, str(body.get("status"))
        )
    except ValueError as exc:
        return json_error(400, str(exc))
    mine = [p.conversation_id for p in placements if p.agent_id == session_of(request).username]
    return web.json_response({"status": body.get("status"), "offered": mine})


async def heartbeat(request: web.Request) -> web.StreamResponse:
    """Keep the agent's presence alive (the console calls this every few seconds)."""
    await request.app[QUEUE].heartbeat(session_of(request).username)
    return web.json_response({"ok": True})


async def waiting(request: web.Request) -> web.StreamResponse:
    """List waiting conversations of the agent's teams (every team for supervisors)."""
    queue = request.app[QUEUE]
    session = session_of(request)
    agent = await queue.agent(session.username)
    teams = set(agent.teams) if agent else set()
    if session.has("supervisor"):
        teams |= await queue.teams()
    rows: list[dict[str, Any]] = []
    for team in sorted(teams):
        rows.extend(ticket_view(t) for t in await queue.waiting(team))
    return web.json_response({"waiting": rows})


async def accept(request: web.Request) -> web.StreamResponse:
    """Accept a conversation offered to the agent."""
    body = await json_object(request)
    conversation_id = str(body.get("conversation", ""))
    if not await request.app[QUEUE].accept(session_of(request).username, conversation_id):
        return json_error(409, "this conversation is not offered to you (any more)")
    await request.app[TRANSCRIPTS].append(
        conversation_id, "system", "客服已接入 / an agent joined", session_of(request).username
    )
    return web.json_response({"conversation": conversation_id, "owner": "AGENT"})


async def decline(request: web.Request) -> web.StreamResponse:
    """Decline an offer: the conversation goes back to the front of the queue."""
    body = await json_object(request)
    conversation_id = str(body.get("conversation", ""))
    if not await request.app[QUEUE].requeue(conversation_id, session_of(request).username, "declined"):
        return json_error(409, "this conversation is not offered to you")
    return web.json_response({"conversation": conversation_id, "requeued": True})


async def transcript(request: web.Request) -> web.StreamResponse:
    """Return the whole conversation: bot turns before the handoff, the customer, other agents."""
    conversation_id = request.match_info["conversation"]
    if not await may_read(request, conversation_id):
        return json_error(403, "not your conversation or team")
    lines = await request.app[TRANSCRIPTS].read(conversation_id)
    owner = await request.app[STATES].get(conversation_id)
    return web.json_response(
        {"conversation": conversation_id, "owner": owner.value, "lines": [x.to_dict() for x in lines]}
    )


async def send(request: web.Request) -> web.StreamResponse:
    """Send the agent's reply to the customer (only the agent who holds the conversation may)."""
    conversation_id = request.match_info["conversation"]
    session = session_of(request)
    queue = request.app[QUEUE]
    ticket = await queue.ticket(conversation_id)
    if ticket is None or ticket.agent != session.username or ticket.status != "assigned":
        return json_error(403, "accept the conversation before replying")
    body = await json_object(request)
    text = str(body.get("text", "")).strip()
    if not text:
        return json_error(400, 'send {"text": ...}')
    if len(text) > MAX_REPLY_CHARS:
        return json_error(413, f"replies up to {MAX_REPLY_CHARS} characters")
    transcripts = request.app[TRANSCRIPTS]
    line_id = await transcripts.append(conversation_id, "agent", text, session.username)
    # Human first response counts from the handoff (the ticket's time), once per ticket.
    observe, agent = request.app[OBSERVE], session.username
    since = max(0.0, time.time() - ticket.enqueued_ms / 1000)
    first, key = f"{conversation_id}:{ticket.enqueued_ms}", f"{conversation_id}:{line_id}"
    await observe(
        "agent_first_reply",
        conversation_id,
        key=first,
        agent=agent,
        team=ticket.team,
        tier=ticket.tier,
        value=since,
    )
    await observe("agent_reply", conversation_id, key=key, agent=agent, team=ticket.team, tier=ticket.tier)
    # Channels that can push get it now; the web chat (REST) polls its outbox.
    await request.app[DELIVER](conversation_id, text, session.username)
    return web.json_response({"id": line_id})


async def close(request: web.Request) -> web.StreamResponse:
    """Close the conversation: the slot frees up and the customer's next message goes to the bot."""
    conversation_id = request.match_info["conversation"]
    session = session_of(request)
    queue = request.app[QUEUE]
    ticket = await queue.ticket(conversation_id)
    if ticket is None or (ticket.agent != session.username and not session.has("supervisor")):
        return json_error(403, "not your conversation")
    try:
        await request.app[CLOSING].close(ticket, f"agent:{session.username}", "closed by agent")
    except IllegalTransition as exc:
        return json_error(409, str(exc))
    return web.json_response({"conversation": conversation_id, "owner": "CLOSED"})


async def outbox(request: web.Request) -> web.StreamResponse:
    """Messages for a web chat customer (agents' replies), newer than ``after``."""
    sender = request.query.get("sender", "")
    if not sender or len(sender) > 200:
        return json_error(400, "give ?sender=")
    # Only the client talking as this sender: it holds the token its webhook answers carried.
    given = request.query.get("token") or request.headers.get("X-Outbox-Token", "")
    expected = await request.app[OUTBOX_TOKEN](sender)
    if not hmac.compare_digest(given.encode(), expected.encode()):
        return json_error(403, "give the outbox token the webhook answered with (X-Outbox-Token)")
    lines = await request.app[TRANSCRIPTS].read_outbox(f"rest:{sender}", request.query.get("after", "0"))
    return web.json_response({"messages": [x.to_dict() for x in lines]})


def operations() -> list[Operation]:
    """Return the agent API's operations (same table shape as the knowledge base's)."""
    op = Operation
    return [
        op("GET", "/api/agent/me", me, "The agent's record and conversations.", "agent"),
        op("POST", "/api/agent/status", set_status, "Go online, pause or go offline.", "agent", "Status"),
        op("POST", "/api/agent/heartbeat", heartbeat, "Keep presence alive.", "agent"),
        op("GET", "/api/agent/queue", waiting, "Waiting conversations of the agent's teams.", "agent"),
        op(
            "POST", "/api/agent/accept", accept, "Accept an offered conversation.", "agent", "ConversationRef"
        ),
        op("POST", "/api/agent/decline", decline, "Decline an offer.", "agent", "ConversationRef"),
        op(
            "GET",
            "/api/agent/conversations/{conversation}",
            transcript,
            "A conversation's transcript.",
            "agent",
            audit="transcript_viewed",
        ),
        op(
            "POST",
            "/api/agent/conversations/{conversation}/messages",
            send,
            "Reply to the customer.",
            "agent",
            "Reply",
        ),
        op(
            "POST", "/api/agent/conversations/{conversation}/close", close, "Close the conversation.", "agent"
        ),
        op("GET", "/webhooks/rest/outbox", outbox, "Agent replies for a web chat customer.", None),
    ]


SCHEMAS: dict[str, Any] = {
    "Status": {
        "type": "object",
        "required": ["status"],
        "properties": {"status": {"enum": ["online", "paused", "offline"]}},
    },
    "ConversationRef": {
        "type": "object",
        "required": ["conversation"],
        "properties": {"conversation": {"type": "string"}},
    },
    "Reply": {
        "type": "object",
        "required": ["text"],
        "properties": {"text": {"type": "string", "maxLength": MAX_REPLY_CHARS}},
    },
}
