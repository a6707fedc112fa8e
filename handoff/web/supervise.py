"""Transfers and the supervisor's overview in the agent API."""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from core.state import IllegalTransition, Owner
from handoff.service import TAKE_REFUSED, TAKEN
from handoff.web.access import ticket_view
from handoff.web.appkeys import CSAT, OBSERVE, PROFILES, QUEUE, SERVICE, STATES, TRANSCRIPTS
from staff.api import Operation, json_object, session_of
from staff.errors import json_error

MAX_NOTE_CHARS = 1000


async def _teams(request: web.Request) -> set[str]:
    """Every team: those with a queue and those agents belong to."""
    queue = request.app[QUEUE]
    return await queue.teams() | {team for agent in await queue.agents() for team in agent.teams}


async def transfer(request: web.Request) -> web.StreamResponse:
    """Hand a conversation to another team or agent with a note the receiver reads in the transcript."""
    conversation_id = request.match_info["conversation"]
    session = session_of(request)
    queue = request.app[QUEUE]
    ticket = await queue.ticket(conversation_id)
    mine = ticket is not None and ticket.agent == session.username and ticket.status == "assigned"
    # Supervisors reassign any conversation an agent holds.
    if ticket is None or ticket.status != "assigned" or not (mine or session.has("supervisor")):
        return json_error(403, "only the agent who holds the conversation (or a supervisor) can transfer it")
    body = await json_object(request)
    to_agent, team = str(body.get("agent") or "").strip(), str(body.get("team") or "").strip()
    note = str(body.get("note") or "").strip()[:MAX_NOTE_CHARS]
    if to_agent:
        target = await queue.agent(to_agent)
        if target is None:
            return json_error(400, f"no agent {to_agent!r}")
        if to_agent == ticket.agent:
            return json_error(400, "the conversation is already theirs")
        team = team or (ticket.team if ticket.team in target.teams else target.teams[0])
    if not team:
        return json_error(400, 'send {"team": ...} or {"agent": ...}, and a "note"')
    if team not in await _teams(request) and not to_agent:
        return json_error(400, f"no team {team!r}")
    try:
        position = await request.app[SERVICE].transfer(ticket, session.username, team, to_agent)
    except IllegalTransition as exc:
        return json_error(409, str(exc))
    target_name = f"{to_agent} ({team})" if to_agent else team
    line = f"转接给 {target_name} / transferred to {target_name}" + (f"：{note}" if note else "")
    line_id = await request.app[TRANSCRIPTS].append(conversation_id, "system", line, session.username)
    # Counted for the agent who gave it away (their scorecard's transfers), in the team it left.
    await request.app[OBSERVE](
        "transfer",
        conversation_id,
        key=line_id,
        agent=ticket.agent,
        team=ticket.team,
        tier=ticket.tier,
        detail=team,
    )
    return web.json_response(
        {"conversation": conversation_id, "team": team, "agent": to_agent, "place": position.position}
    )


async def overview(request: web.Request) -> web.StreamResponse:
    """Queues per team, every agent's presence and load, and the live conversations (supervisors)."""
    queue = request.app[QUEUE]
    teams: dict[str, Any] = {}
    for team in sorted(await _teams(request)):
        waiting = await queue.waiting(team)
        teams[team] = {
            "waiting": len(waiting),
            "longest_wait_seconds": max((ticket_view(t)["waiting_seconds"] for t in waiting), default=0),
        }
    agents, live = [], []
    for agent in sorted(await queue.agents(), key=lambda a: a.id):
        agents.append(
            {
                "id": agent.id,
                "name": agent.name,
                "teams": list(agent.teams),
                "status": agent.status if agent.alive else "offline",
                "load": agent.load,
                "capacity": agent.capacity,
            }
        )
        for conversation_id in sorted(await queue.conversations_of(agent.id)):
            ticket = await queue.ticket(conversation_id)
            if ticket is not None:
                live.append(ticket_view(ticket))
    return web.json_response({"teams": teams, "agents": agents, "conversations": live})


async def _may_take_over(request: web.Request) -> str | None:
    """Return the team a take-over lands in, or None when the session may not take over bot chats."""
    session = session_of(request)
    service = request.app[SERVICE]
    agent = await request.app[QUEUE].agent(session.username)
    if agent is None:
        return None
    # Bot conversations belong to the team a handoff would queue them for; supervisors cover every team.
    if service.team in agent.teams or (session.has("supervisor") and agent.teams):
        return service.team if service.team in agent.teams else agent.teams[0]
    return None


async def bot_conversations(request: web.Request) -> web.StreamResponse:
    """Conversations the bot is handling, newest customer message first, for a proactive take-over."""
    if await _may_take_over(request) is None:
        return json_error(403, f"only agents of team {request.app[SERVICE].team!r} or supervisors")
    try:
        minutes = min(24 * 60, max(1, int(request.query.get("minutes", "30"))))
    except ValueError:
        return json_error(400, "minutes must be a whole number")
    transcripts = request.app[TRANSCRIPTS]
    states = request.app[STATES]
    profiles = request.app[PROFILES]
    since = int(time.time() * 1000) - minutes * 60_000
    rows = []
    for conversation_id, last_ms in await transcripts.recent(since, limit=100):
        if await states.get(conversation_id) is not Owner.BOT:
            continue
        lines = await transcripts.read(conversation_id, 10)
        said = [line.text for line in lines if line.role == "customer"]
        profile = await profiles.for_identity(conversation_id)
        rows.append(
            {
                "conversation": conversation_id,
                "channel": conversation_id.partition(":")[0],
                "tier": profile.tier,
                "last_message": said[-1][:200] if said else "",
                "last_message_at": last_ms,
                "turns": len(said),
            }
        )
        if len(rows) >= 50:
            break
    return web.json_response({"conversations": rows})


async def take_over(request: web.Request) -> web.StreamResponse:
    """Take a conversation from the bot: it becomes the agent's at once (within capacity), no queue."""
    conversation_id = request.match_info["conversation"]
    team = await _may_take_over(request)
    if team is None:
        return json_error(403, f"only agents of team {request.app[SERVICE].team!r} or supervisors")
    session = session_of(request)
    transcripts = request.app[TRANSCRIPTS]
    said = [line.text for line in await transcripts.read(conversation_id, 20) if line.role == "customer"]
    taken = await request.app[SERVICE].take_over(
        conversation_id, session.username, team, said[-1] if said else ""
    )
    if taken != TAKEN:
        return json_error(409, TAKE_REFUSED.get(taken, "cannot take it over"))
    await transcripts.append(conversation_id, "system", "客服已接入 / an agent took over", session.username)
    return web.json_response({"conversation": conversation_id, "owner": "AGENT", "team": team})


async def satisfaction(request: web.Request) -> web.StreamResponse:
    """CSAT per agent (count, mean, per score) and the newest optional comments (supervisors)."""
    ratings = request.app[CSAT]
    agents = sorted(a.id for a in await request.app[QUEUE].agents())
    by_agent = {agent: await ratings.summary("agent", agent) for agent in agents}
    return web.json_response({"agents": by_agent, "comments": await ratings.comments(50)})


def operations() -> list[Operation]:
    """Return the operations (the agent API's table shape)."""
    op = Operation
    return [
        op(
            "POST",
            "/api/agent/conversations/{conversation}/transfer",
            transfer,
            "Transfer to another team or agent, with a note.",
            "agent",
            "Transfer",
        ),
        op("GET", "/api/agent/overview", overview, "Queues, agents and live conversations.", "supervisor"),
        op(
            "GET",
            "/api/agent/satisfaction",
            satisfaction,
            "CSAT per agent and recent comments.",
            "supervisor",
            audit="satisfaction_viewed",
        ),
        op(
            "GET",
            "/api/agent/bot-conversations",
            bot_conversations,
            "Conversations the bot is handling.",
            "agent",
            audit="bot_conversations_viewed",
        ),
        op(
            "POST",
            "/api/agent/conversations/{conversation}/takeover",
            take_over,
            "Take a conversation over from the bot.",
            "agent",
            audit="conversation_taken_over",
        ),
    ]


SCHEMAS: dict[str, Any] = {
    "Transfer": {
        "type": "object",
        "properties": {
            "team": {"type": "string"},
            "agent": {"type": "string"},
            "note": {"type": "string", "maxLength": MAX_NOTE_CHARS},
        },
    },
}
