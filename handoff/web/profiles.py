"""Customer profiles in the agent API: read beside a conversation, edit, add internal notes, merge."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from handoff.profiles import ProfileError
from handoff.web.access import may_read
from handoff.web.appkeys import PROFILES
from staff.api import Operation, json_object, session_of
from staff.errors import json_error


async def _may_edit(request: web.Request, profile_id: str) -> bool:
    """Supervisors edit any profile; agents those of customers in conversations they may read."""
    if session_of(request).has("supervisor"):
        return True
    for conversation in await request.app[PROFILES].conversations(profile_id, 20):
        if await may_read(request, conversation):
            return True
    return False


async def conversation_profile(request: web.Request) -> web.StreamResponse:
    """The customer behind a conversation: profile, notes, past conversations across channels."""
    conversation = request.match_info["conversation"]
    if not await may_read(request, conversation):
        return json_error(403, "not your conversation")
    profiles = request.app[PROFILES]
    profile = await profiles.for_identity(conversation)
    supervisor = session_of(request).has("supervisor")
    request["audit"] = {"profile": profile.id, "phone_shown": supervisor and bool(profile.phone)}
    body: dict[str, Any] = {
        "profile": profile.public(reveal_phone=supervisor),
        "notes": await profiles.notes(profile.id),
        "conversations": await profiles.conversations(profile.id),
    }
    if supervisor:
        body["audit"] = await profiles.audit(profile.id)
    return web.json_response(body)


async def update_profile(request: web.Request) -> web.StreamResponse:
    """Edit a profile's attributes (tier and dedicated agent: supervisors only)."""
    profile_id = request.match_info["profile"]
    if not await _may_edit(request, profile_id):
        return json_error(403, "not your customer")
    changes = await json_object(request)
    session = session_of(request)
    if ({"tier", "dedicated_agent"} & changes.keys()) and not session.has("supervisor"):
        return json_error(403, "tier and dedicated agent are set by supervisors")
    try:
        profile = await request.app[PROFILES].update(profile_id, f"agent:{session.username}", changes)
    except ProfileError as exc:
        return json_error(400, str(exc))
    return web.json_response({"profile": profile.public(reveal_phone=session.has("supervisor"))})


async def add_note(request: web.Request) -> web.StreamResponse:
    """Add an internal note to the profile (never shown to the customer)."""
    profile_id = request.match_info["profile"]
    if not await _may_edit(request, profile_id):
        return json_error(403, "not your customer")
    text = str((await json_object(request)).get("text", "")).strip()
    if not text or len(text) > 2000:
        return json_error(400, 'send {"text": ...} of 1-2000 characters')
    try:
        note = await request.app[PROFILES].add_note(profile_id, session_of(request).username, text)
    except ProfileError as exc:
        return json_error(404, str(exc))
    return web.json_response({"id": note})


async def merge(request: web.Request) -> web.StreamResponse:
    """Merge two profiles of the same person (``from`` into ``into``), with an audit entry."""
    body = await json_object(request)
    keep, other = str(body.get("into", "")), str(body.get("from", ""))
    if not (await _may_edit(request, keep) and await _may_edit(request, other)):
        return json_error(403, "you may merge only customers you serve")
    try:
        profile = await request.app[PROFILES].merge(keep, other, f"agent:{session_of(request).username}")
    except ProfileError as exc:
        return json_error(400, str(exc))
    return web.json_response({"profile": profile.public(reveal_phone=session_of(request).has("supervisor"))})


def operations() -> list[Operation]:
    """Return the profile operations (the agent API's table shape)."""
    op = Operation
    # The fixed path first: aiohttp tries routes in order and {profile} would also match "merge".
    return [
        op(
            "POST",
            "/api/agent/profiles/merge",
            merge,
            "Merge two profiles of one person.",
            "agent",
            "Merge",
            audit="profiles_merged",
        ),
        op(
            "GET",
            "/api/agent/conversations/{conversation}/profile",
            conversation_profile,
            "The customer behind a conversation.",
            "agent",
            audit="profile_viewed",
        ),
        op(
            "POST",
            "/api/agent/profiles/{profile}",
            update_profile,
            "Edit a customer profile.",
            "agent",
            "ProfileEdit",
            audit="profile_changed",
        ),
        op("POST", "/api/agent/profiles/{profile}/notes", add_note, "Add an internal note.", "agent", "Note"),
    ]


SCHEMAS: dict[str, Any] = {
    "ProfileEdit": {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "phone": {"type": "string"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "lifetime_value": {"type": "number", "minimum": 0},
            "tier": {"enum": ["vip", "regular", "new", "auto"]},
            "dedicated_agent": {"type": "string"},
        },
    },
    "Note": {
        "type": "object",
        "required": ["text"],
        "properties": {"text": {"type": "string", "maxLength": 2000}},
    },
    "Merge": {
        "type": "object",
        "required": ["into", "from"],
        "properties": {"into": {"type": "string"}, "from": {"type": "string"}},
    },
}
