"""Complaint cases in the agent API: agents see their teams' cases, supervisors every case."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from redis.exceptions import WatchError

from handoff.complaints import Case, CaseError, Complaints, MoveRefused, Status, escalate_now
from handoff.web.access import teams_of
from handoff.web.appkeys import PROFILES, QUEUE, SERVICE, SIGNOFF, TRANSCRIPTS
from staff.api import Operation, json_object, session_of
from staff.auth import ACCOUNTS
from staff.errors import json_error


def _cases(request: web.Request) -> Complaints:
    cases = request.app[SERVICE].complaints
    if cases is None:
        raise web.HTTPNotFound(text='{"error": "no complaint cases here"}', content_type="application/json")
    return cases


async def _case_of(request: web.Request) -> Case | web.StreamResponse:
    """Return the case named in the path, or a 404 when it is unknown or another team's."""
    case = await _cases(request).get(request.match_info["case"])
    teams = await teams_of(request)
    if case is None or (teams is not None and case.team not in teams):
        return json_error(404, "no such case in your teams")
    return case


async def list_cases(request: web.Request) -> web.StreamResponse:
    """Unfinished cases of the agent's teams (every team for supervisors), nearest deadline first.

    Filters: ``status``, ``severity``, ``category``, ``overdue=1`` (past the resolution deadline),
    ``mine=1`` (owned by the caller). ``now`` in the answer lets the console count down without clock skew.
    """
    cases_ = _cases(request)
    policy, query = cases_.policy, request.query
    wanted = query.get("status")
    if wanted is not None and wanted not in {s.value for s in Status}:
        return json_error(400, f"unknown status {wanted!r}")
    for name, allowed in (("severity", policy.severities), ("category", policy.categories)):
        if name in query and query[name] not in allowed:
            return json_error(400, f"unknown {name} {query[name]!r}; one of {', '.join(allowed)}")
    teams, now = await teams_of(request), cases_.clock()
    overdue, mine = query.get("overdue") == "1", query.get("mine") == "1"
    me = session_of(request).username
    severity, category, status = query.get("severity"), query.get("category"), wanted

    def keep(case: Case) -> bool:
        return (
            (status is None or case.status.value == status)
            and (severity is None or case.severity == severity)
            and (category is None or case.category == category)
            and (not mine or case.owner == me)
        )

    cases = await cases_.unfinished(
        _limit(query.get("limit")), teams, keep, due_before=now if overdue else None
    )
    return web.json_response(
        {
            "now": now,
            "cases": [case.view() for case in cases],
            "categories": list(policy.categories),
            "severities": list(policy.severities),
        }
    )


def _limit(raw: str | None) -> int:
    if raw is None or not raw.isdigit():
        return 500
    return max(1, min(int(raw), 2000))


async def get_case(request: web.Request) -> web.StreamResponse:
    """One case with its history."""
    case = await _case_of(request)
    if not isinstance(case, Case):
        return case
    return web.json_response(case.view(await _cases(request).history(case.id)))


async def case_conversation(request: web.Request) -> web.StreamResponse:
    """The case's conversation as the console shows it: transcript and the customer's (masked) profile."""
    case = await _case_of(request)
    if not isinstance(case, Case):
        return case
    conversation = case.conversations[0]
    lines = await request.app[TRANSCRIPTS].read(conversation)
    profile = await request.app[PROFILES].for_identity(conversation)
    reveal = session_of(request).has("supervisor")
    return web.json_response(
        {
            "conversation": conversation,
            "lines": [line.to_dict() for line in lines],
            "profile": profile.public(reveal_phone=reveal),
        }
    )


async def open_case(request: web.Request) -> web.StreamResponse:
    """Open a case for a conversation from the console (or add to the customer's open one)."""
    body = await json_object(request)
    conversation = body.get("conversation")
    description = body.get("description")
    if not isinstance(conversation, str) or not conversation or not isinstance(description, str):
        return json_error(400, "send conversation and description")
    teams = await teams_of(request)
    # The conversation's own team by default: an agent records complaints about the work they hold.
    ticket = await request.app[QUEUE].ticket(conversation)
    team = body.get("team") or (ticket.team if ticket else request.app[SERVICE].team)
    if not isinstance(team, str) or (teams is not None and team not in teams):
        return json_error(403, "you can open cases for your own teams only")
    session = session_of(request)
    try:
        case, created = await _cases(request).open(
            conversation,
            conversation,
            description,
            channel=conversation.partition(":")[0],
            team=team,
            actor=f"agent:{session.username}",
            category=_text(body.get("category")),
            severity=_text(body.get("severity")),
        )
    except CaseError as exc:
        return json_error(400, str(exc))
    return web.json_response(case.view(), status=201 if created else 200)


async def take_case(request: web.Request) -> web.StreamResponse:
    """Take a case: it becomes the agent's, in progress."""
    return await _move(request, Status.IN_PROGRESS, take=True)


async def resolve_case(request: web.Request) -> web.StreamResponse:
    """Mark a case resolved (its owner, or a supervisor); the customer is asked to confirm it."""
    return await _move(request, Status.RESOLVED, take=False)


async def reassign_case(request: web.Request) -> web.StreamResponse:
    """Give a case to another agent or team (supervisors)."""
    case = await _case_of(request)
    if not isinstance(case, Case):
        return case
    session = session_of(request)
    if not session.has("supervisor"):
        return json_error(403, "only a supervisor may reassign a case")
    body = await json_object(request)
    owner, team = body.get("owner", ""), body.get("team")
    if not isinstance(owner, str) or (team is not None and (not isinstance(team, str) or not team)):
        return json_error(400, "send owner (a username, or empty for the team) and optionally team")
    if owner and not await request.app[ACCOUNTS].exists(owner):
        return json_error(400, f"no staff member {owner!r}")
    try:
        moved = await _cases(request).reassign(case.id, f"agent:{session.username}", owner=owner, team=team)
    except MoveRefused as exc:
        return json_error(409, str(exc))
    return web.json_response(moved.view())


async def escalate_case(request: web.Request) -> web.StreamResponse:
    """Escalate a case one level now (its owner, or a supervisor)."""
    case = await _case_of(request)
    if not isinstance(case, Case):
        return case
    session = session_of(request)
    if case.owner != session.username and not session.has("supervisor"):
        return json_error(403, "only the case's owner or a supervisor may escalate it")
    try:
        escalated = await escalate_now(_cases(request), case.id, f"agent:{session.username}")
    except WatchError:
        return json_error(409, "the case changed meanwhile; read it again")
    if escalated is None:
        return json_error(409, "this case cannot be escalated further")
    return web.json_response(escalated.view())


async def note_case(request: web.Request) -> web.StreamResponse:
    """Add an internal note to a case."""
    case = await _case_of(request)
    if not isinstance(case, Case):
        return case
    text = (await json_object(request)).get("text")
    if not isinstance(text, str):
        return json_error(400, "send text")
    try:
        await _cases(request).note(case.id, f"agent:{session_of(request).username}", text)
    except CaseError as exc:
        return json_error(400, str(exc))
    return web.json_response({"case": case.id})


async def _move(request: web.Request, to: Status, *, take: bool) -> web.StreamResponse:
    case = await _case_of(request)
    if not isinstance(case, Case):
        return case
    session = session_of(request)
    if not take and case.owner != session.username and not session.has("supervisor"):
        return json_error(403, "only the case's owner or a supervisor may do this")
    body = await json_object(request) if request.can_read_body else {}
    try:
        moved = await _cases(request).move(
            case.id,
            to,
            f"agent:{session.username}",
            _text(body.get("detail")) or "",
            owner=session.username if take else None,
        )
    except MoveRefused as exc:
        return json_error(409, str(exc))
    if to is Status.RESOLVED:
        await request.app[SIGNOFF].ask(moved, _text(body.get("detail")) or "")
    return web.json_response(moved.view())


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def operations() -> list[Operation]:
    """Return the operations (the agent API's table shape)."""
    op = Operation
    base = "/api/agent/complaints"
    return [
        op(
            "GET",
            base,
            list_cases,
            "Unfinished complaint cases of your teams, nearest deadline first.",
            "agent",
        ),
        op("POST", base, open_case, "Open a complaint case for a conversation.", "agent", "CaseOpen"),
        op(
            "GET",
            base + "/{case}",
            get_case,
            "A complaint case with its history.",
            "agent",
            audit="case_viewed",
        ),
        op(
            "GET",
            base + "/{case}/conversation",
            case_conversation,
            "The case's transcript and customer profile.",
            "agent",
            audit="transcript_viewed",
        ),
        op("POST", base + "/{case}/take", take_case, "Take a case: yours, in progress.", "agent"),
        op("POST", base + "/{case}/notes", note_case, "Add an internal note to a case.", "agent", "CaseNote"),
        op(
            "POST",
            base + "/{case}/resolve",
            resolve_case,
            "Mark a case resolved; the customer is asked to confirm.",
            "agent",
            "CaseDetail",
        ),
        op(
            "POST",
            base + "/{case}/reassign",
            reassign_case,
            "Give a case to another agent or team.",
            "supervisor",
            "CaseReassign",
        ),
        op("POST", base + "/{case}/escalate", escalate_case, "Escalate a case one level now.", "agent"),
    ]


SCHEMAS: dict[str, Any] = {
    "CaseOpen": {
        "type": "object",
        "required": ["conversation", "description"],
        "properties": {
            "conversation": {"type": "string", "example": "rest:42"},
            "description": {"type": "string", "maxLength": 2000},
            "category": {"type": "string", "example": "物流"},
            "severity": {"type": "string", "example": "严重"},
            "team": {"type": "string", "example": "support"},
        },
    },
    "CaseNote": {"type": "object", "required": ["text"], "properties": {"text": {"type": "string"}}},
    "CaseDetail": {
        "type": "object",
        "properties": {"detail": {"type": "string", "example": "已补发，单号 SF123", "maxLength": 2000}},
    },
    "CaseReassign": {
        "type": "object",
        "properties": {"owner": {"type": "string", "example": "sue"}, "team": {"type": "string"}},
    },
}
