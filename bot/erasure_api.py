"""The admins' erasure API: ``POST /api/admin/customers/erase`` (a customer's right to be forgotten)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.appkeys import SERVICES
from bot.erasure import Eraser
from staff.api import Operation, json_object
from staff.errors import json_error

MAX_ID_CHARS = 200


async def erase(request: web.Request) -> web.StreamResponse:
    """Erase the customer named by profile id or by one of their conversations; say what went."""
    body = await json_object(request)
    profile, conversation = body.get("profile", ""), body.get("conversation", "")
    if not isinstance(profile, str) or not isinstance(conversation, str):
        return json_error(400, "profile and conversation are strings")
    if not (profile or conversation) or len(profile) > MAX_ID_CHARS or len(conversation) > MAX_ID_CHARS:
        return json_error(400, "name the customer by profile or conversation")
    services = request.app[SERVICES]
    try:
        erased = await Eraser(services.redis, services.keys).erase(profile=profile, conversation=conversation)
    except LookupError:
        return json_error(404, "no such customer")
    request["audit"] = erased.summary()
    return web.json_response({"erased": erased.summary()})


def operations() -> list[Operation]:
    """The erasure API, admins only, each call in the audit log."""
    return [
        Operation(
            "POST",
            "/api/admin/customers/erase",
            erase,
            "Erase a customer's personal data everywhere (admins); the reports' aggregates stay.",
            "admin",
            "Erase",
            audit="customer_erased",
        )
    ]


SCHEMAS: dict[str, Any] = {
    "Erase": {
        "type": "object",
        "properties": {
            "profile": {"type": "string", "maxLength": MAX_ID_CHARS},
            "conversation": {"type": "string", "maxLength": MAX_ID_CHARS},
        },
    }
}
