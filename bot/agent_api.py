"""The agents' JSON API: presence, the queue, accept, transcript, reply, close; and the customer outbox.

Every call checks the session and the role; an agent reads only conversations offered to or held by
them, or waiting in one of their teams, unless they are a supervisor.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from aiohttp import web

from bot.auth import Accounts, Session, json_error, require
from bot.kb_api import ACCOUNTS, Operation, read_json
from bot.language import detect_language
from bot.state import ConversationStates, IllegalTransition, Owner
from bot.transcript import Transcripts
from handoff import csat
from handoff.profiles import Profiles
from handoff.queue import HandoffQueue, Ticket

QUEUE = web.AppKey("handoff_queue", HandoffQueue)
CSAT = web.AppKey("csat", csat.Csat)
TRANSCRIPTS = web.AppKey("transcripts", Transcripts)
STATES_KEY = web.AppKey("agent_states", ConversationStates)
PROFILES = web.AppKey("profiles", Profiles)
MAX_REPLY_CHARS = 4000


def session_of(request: web.Request) -> Session:
    """Return the signed-in session that ``require`` put on the request."""
    session: Session = request["session"]
    return session


async def json_object(request: web.Request, limit: int = 64 * 1024) -> dict[str, Any]:
    """Read a JSON object body within ``limit`` bytes, or raise the 400/413 the client gets."""
    data = await read_json(request, limit)
    if not isinstance(data, dict):
        raise web.HTTPBadRequest(
            text=json.dumps({"error": "send a JSON object"}), content_type="application/json"
        )
    return data


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


def ticket_view(ticket: Any) -> dict[str, Any]:
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
        conversation_id, "system", "agent joined", session_of(request).username
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
    owner = await request.app[STATES_KEY].get(conversation_id)
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
        await close_conversation(request.app, ticket, f"agent:{session.username}", "closed by agent")
    except IllegalTransition as exc:
        return json_error(409, str(exc))
    return web.json_response({"conversation": conversation_id, "owner": "CLOSED"})


async def close_conversation(
    app: web.Application,
    ticket: Ticket,
    actor: str,
    reason: str,
    notice: dict[str, str] | None = None,
    expected: Owner | None = None,
) -> None:
    """Close a held conversation: free the slot, remember the agent, ask the customer for a rating.

    ``notice`` (by language) is told to the customer before the rating prompt. Raises IllegalTransition
    when the conversation is not in ``expected`` (when given) or cannot close from where it is.
    """
    conversation_id = ticket.conversation_id
    await app[STATES_KEY].transition(
        conversation_id, Owner.CLOSED, actor=actor, reason=reason, expected=expected
    )
    handled = max(0.0, time.time() - ticket.enqueued_ms / 1000)
    await app[QUEUE].finish(conversation_id, ticket.agent, handled_seconds=handled)
    if ticket.customer_id:
        # Next time this customer asks for a human, this agent is tried first (sticky routing).
        await app[PROFILES].served_by(ticket.customer_id, ticket.agent)
    transcripts = app[TRANSCRIPTS]
    await transcripts.append(conversation_id, "system", "conversation closed", actor.removeprefix("agent:"))
    # Ask the customer to rate the conversation, in the language they last wrote in.
    said = [line.text for line in await transcripts.read(conversation_id, 50) if line.role == "customer"]
    language = next((lang for lang in map(detect_language, reversed(said)) if lang), "zh")
    if notice:
        await app[DELIVER](conversation_id, notice[language], "")
        await transcripts.append(conversation_id, "system", notice[language])
    await app[CSAT].offer(conversation_id, ticket.agent, ticket.channel, ticket.tier, language)
    text, buttons = csat.prompt(language)
    await app[DELIVER](conversation_id, text, "", buttons)
    await transcripts.append(conversation_id, "system", text)


async def outbox(request: web.Request) -> web.StreamResponse:
    """Messages for a web chat customer (agents' replies), newer than ``after``."""
    sender = request.query.get("sender", "")
    if not sender or len(sender) > 200:
        return json_error(400, "give ?sender=")
    lines = await request.app[TRANSCRIPTS].read_outbox(f"rest:{sender}", request.query.get("after", "0"))
    return web.json_response({"messages": [x.to_dict() for x in lines]})


class Deliver(Protocol):
    """Sends an agent's message to the customer through the conversation's channel."""

    async def __call__(
        self, conversation_id: str, text: str, author: str, buttons: Sequence[tuple[str, str]] = ()
    ) -> None:
        """Deliver ``text`` and quick-reply buttons from ``author`` to the conversation's customer."""


DELIVER = web.AppKey("deliver", Deliver)


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


def register(app: web.Application, web_dir: Any, extra: Sequence[Operation] = ()) -> None:
    """Add the agent console page and API routes (plus ``extra`` operations) to ``app``."""

    async def page(request: web.Request) -> web.FileResponse:
        return web.FileResponse(web_dir / "agent.html")

    app.router.add_get("/agent", page)
    accounts: Callable[[web.Request], Accounts] = lambda request: request.app[ACCOUNTS]  # noqa: E731
    for o in [*operations(), *extra]:
        handler = require(o.role, accounts)(o.handler) if o.role else o.handler
        app.router.add_route(o.method, o.path, handler)
