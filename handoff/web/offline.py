"""Left messages (留言) and business hours in the agent API."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from handoff.holiday_notice import NoticeError, read_holidays
from handoff.hours import Hours, ScheduleError
from handoff.offline import OfflineMessages
from handoff.service import TAKE_REFUSED, TAKEN
from handoff.web.access import teams_of
from handoff.web.appkeys import QUEUE, SERVICE, TRANSCRIPTS
from staff.api import Operation, json_object, session_of
from staff.errors import json_error

# A year's notice is 3 KB as text and some 100 KB saved as a web page.
MAX_HOLIDAY_LIST_BYTES = 1_000_000


def _hours(request: web.Request) -> Hours:
    hours = request.app[SERVICE].hours
    if hours is None:
        raise web.HTTPNotFound(text='{"error": "no business hours here"}', content_type="application/json")
    return hours


def _offline(request: web.Request) -> OfflineMessages:
    left = request.app[SERVICE].offline
    if left is None:
        raise web.HTTPNotFound(text='{"error": "no left messages here"}', content_type="application/json")
    return left


async def list_left(request: web.Request) -> web.StreamResponse:
    """Open messages of the agent's teams (every team for supervisors), oldest first."""
    teams = await teams_of(request)
    if teams is None:
        teams = await request.app[QUEUE].teams() | set((await _hours(request).all()).keys())
        teams.add(request.app[SERVICE].team)
    messages = await _offline(request).open(teams)
    return web.json_response({"messages": [m.to_dict() for m in messages]})


async def claim_left(request: web.Request) -> web.StreamResponse:
    """Take a message: the conversation becomes the agent's at once, to reply in the console."""
    left = _offline(request)
    message = await left.get(request.match_info["message"])
    teams = await teams_of(request)
    if message is None or (teams is not None and message.team not in teams):
        return json_error(404, "no such message in your teams")
    session = session_of(request)
    claimed = await left.claim(message.id, session.username)
    if claimed is None:
        return json_error(409, "someone has already taken this message")
    taken = await request.app[SERVICE].take_over(
        message.conversation_id, session.username, message.team, message.text
    )
    if taken != TAKEN:
        await left.release(claimed)
        return json_error(409, TAKE_REFUSED.get(taken, "cannot take it"))
    await request.app[TRANSCRIPTS].append(
        message.conversation_id, "system", "客服处理留言 / an agent took the message", session.username
    )
    return web.json_response({"message": message.id, "conversation": message.conversation_id})


async def get_hours(request: web.Request) -> web.StreamResponse:
    """Every team's schedule and whether it is open now."""
    hours = _hours(request)
    body: dict[str, Any] = {}
    for team, schedule in sorted((await hours.all()).items()):
        closed = await hours.closed(team)
        body[team] = {
            "schedule": schedule.source,
            "open": closed is None,
            "next_open": closed.next_open.isoformat() if closed and closed.next_open else None,
        }
    return web.json_response({"teams": body})


async def put_hours(request: web.Request) -> web.StreamResponse:
    """Set a team's business hours and holidays (supervisors)."""
    body = await json_object(request)
    try:
        schedule = await _hours(request).set(request.match_info["team"], body)
    except ScheduleError as exc:
        return json_error(400, str(exc))
    return web.json_response({"team": request.match_info["team"], "schedule": schedule.source})


async def read_holiday_list(request: web.Request) -> web.StreamResponse:
    """Read an uploaded holiday list (the State Council's notice, or holiday-cn JSON) into dates.

    Nothing is stored: the settings page shows the dates for the supervisor to check, then saves them
    with the team's hours.
    """
    if request.content_length is not None and request.content_length > MAX_HOLIDAY_LIST_BYTES:
        return json_error(413, f"files up to {MAX_HOLIDAY_LIST_BYTES} bytes")
    raw = await request.content.read(MAX_HOLIDAY_LIST_BYTES + 1)
    if len(raw) > MAX_HOLIDAY_LIST_BYTES:
        return json_error(413, f"files up to {MAX_HOLIDAY_LIST_BYTES} bytes")
    year_raw = request.query.get("year", "")
    if year_raw and not (year_raw.isdigit() and 2000 <= int(year_raw) <= 2100):
        return json_error(400, "year: a year such as 2026")
    try:
        days = read_holidays(raw, int(year_raw) if year_raw else None)
    except NoticeError as exc:
        return json_error(400, str(exc))
    return web.json_response(
        {"days": [{"date": d.date.isoformat(), "name": d.name, "off": d.off} for d in days]}
    )


async def delete_hours(request: web.Request) -> web.StreamResponse:
    """Remove a team's schedule: always open again (supervisors)."""
    gone = await _hours(request).clear(request.match_info["team"])
    return web.json_response({"deleted": gone}, status=200 if gone else 404)


def operations() -> list[Operation]:
    """Return the operations (the agent API's table shape)."""
    op = Operation
    return [
        op(
            "GET",
            "/api/agent/left-messages",
            list_left,
            "Open messages customers left (留言).",
            "agent",
            audit="left_messages_viewed",
        ),
        op(
            "POST",
            "/api/agent/left-messages/{message}/claim",
            claim_left,
            "Take a left message: the conversation becomes the agent's.",
            "agent",
        ),
        op("GET", "/api/agent/hours", get_hours, "Business hours per team, open now or not.", "agent"),
        op(
            "POST",
            "/api/agent/holiday-list",
            read_holiday_list,
            "Read a holiday list file (国务院 notice or holiday-cn JSON; ?year=).",
            "supervisor",
            "File",
        ),
        op(
            "PUT",
            "/api/agent/hours/{team}",
            put_hours,
            "Set a team's hours and holidays.",
            "supervisor",
            "Hours",
            audit="hours_changed",
        ),
        op(
            "DELETE",
            "/api/agent/hours/{team}",
            delete_hours,
            "Remove a team's hours (always open).",
            "supervisor",
            audit="hours_removed",
        ),
    ]


_RANGES = {"type": "array", "items": {"type": "string", "pattern": "^\\d\\d:\\d\\d-\\d\\d:\\d\\d$"}}
SCHEMAS: dict[str, Any] = {
    "Hours": {
        "type": "object",
        "properties": {
            "timezone": {"type": "string", "example": "Asia/Shanghai"},
            "weekly": {
                "type": "object",
                "properties": {d: _RANGES for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")},
            },
            "holidays": {
                "description": "date (YYYY-MM-DD) → the holiday's name; a list of dates is read too",
                "type": "object",
                "additionalProperties": {"type": "string", "maxLength": 40},
            },
            "special": {"type": "object", "additionalProperties": _RANGES},
        },
    },
}
