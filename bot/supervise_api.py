"""Transfers and the supervisor's overview in the agent API."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot import agent_api
from bot.auth import Session, json_error
from bot.kb_api import Operation, read_json
from bot.state import IllegalTransition
from handoff.service import HandoffService

SERVICE = web.AppKey("handoff_service", HandoffService)
MAX_NOTE_CHARS = 1000


def _session(request: web.Request) -> Session:
    session: Session = request["session"]
    return session


async def _teams(request: web.Request) -> set[str]:
    """Every team: those with a queue and those agents belong to."""
    queue = request.app[agent_api.QUEUE]
    return await queue.teams() | {team for agent in await queue.agents() for team in agent.teams}


async def transfer(request: web.Request) -> web.StreamResponse:
    """Hand a conversation to another team or agent with a note the receiver reads in the transcript."""
    conversation_id = request.match_info["conversation"]
    session = _session(request)
    queue = request.app[agent_api.QUEUE]
    ticket = await queue.ticket(conversation_id)
    mine = ticket is not None and ticket.agent == session.username and ticket.status == "assigned"
    # Supervisors reassign any conversation an agent holds.
    if ticket is None or ticket.status != "assigned" or not (mine or session.has("supervisor")):
        return json_error(403, "only the agent who holds the conversation (or a supervisor) can transfer it")
    body = await read_json(request, 16 * 1024)
    if not isinstance(body, dict):
        return json_error(400, "send a JSON object")
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
    await request.app[agent_api.TRANSCRIPTS].append(conversation_id, "system", line, session.username)
    return web.json_response(
        {"conversation": conversation_id, "team": team, "agent": to_agent, "place": position.position}
    )


async def overview(request: web.Request) -> web.StreamResponse:
    """Queues per team, every agent's presence and load, and the live conversations (supervisors)."""
    queue = request.app[agent_api.QUEUE]
    teams: dict[str, Any] = {}
    for team in sorted(await _teams(request)):
        waiting = await queue.waiting(team)
        teams[team] = {
            "waiting": len(waiting),
            "longest_wait_seconds": max(
                (agent_api.ticket_view(t)["waiting_seconds"] for t in waiting), default=0
            ),
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
                live.append(agent_api.ticket_view(ticket))
    return web.json_response({"teams": teams, "agents": agents, "conversations": live})


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
