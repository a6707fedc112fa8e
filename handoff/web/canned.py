"""Canned replies in the agent API: every agent reads theirs and the shared ones; supervisors keep shared."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from handoff.canned import MAX_TEXT_CHARS, CannedError
from handoff.web.appkeys import CANNED
from staff.api import Operation, json_object, session_of
from staff.errors import json_error


def _scope_allowed(request: web.Request) -> str | web.StreamResponse:
    scope = request.match_info["scope"]
    if scope == "shared" and not session_of(request).has("supervisor"):
        return json_error(403, "only supervisors change shared replies")
    return scope


async def list_canned(request: web.Request) -> web.StreamResponse:
    """The agent's own replies first, then the shared ones (an own reply overrides a shared shortcut)."""
    replies = await request.app[CANNED].for_agent(session_of(request).username)
    return web.json_response({"replies": [c.to_dict() for c in replies]})


async def save_canned(request: web.Request) -> web.StreamResponse:
    """Create or replace a reply under a shortcut."""
    scope = _scope_allowed(request)
    if not isinstance(scope, str):
        return scope
    body = await json_object(request)
    try:
        saved = await request.app[CANNED].save(
            scope,
            session_of(request).username,
            request.match_info["shortcut"],
            str(body.get("text", "")),
        )
    except CannedError as exc:
        return json_error(400, str(exc))
    return web.json_response(saved.to_dict())


async def delete_canned(request: web.Request) -> web.StreamResponse:
    """Delete a reply."""
    scope = _scope_allowed(request)
    if not isinstance(scope, str):
        return scope
    try:
        gone = await request.app[CANNED].delete(
            scope, session_of(request).username, request.match_info["shortcut"]
        )
    except CannedError as exc:
        return json_error(400, str(exc))
    return web.json_response({"deleted": gone}, status=200 if gone else 404)


def operations() -> list[Operation]:
    """Return the operations (the agent API's table shape)."""
    path = "/api/agent/canned/{scope}/{shortcut}"
    return [
        Operation(
            "GET", "/api/agent/canned", list_canned, "The agent's and the shared canned replies.", "agent"
        ),
        Operation("PUT", path, save_canned, "Save a canned reply (shared: supervisors).", "agent", "Canned"),
        Operation("DELETE", path, delete_canned, "Delete a canned reply (shared: supervisors).", "agent"),
    ]


SCHEMAS: dict[str, Any] = {
    "Canned": {
        "type": "object",
        "required": ["text"],
        "properties": {"text": {"type": "string", "maxLength": MAX_TEXT_CHARS}},
    },
}
