"""Bulk actions on draft entries: switch many on or off, move them to a category, or delete them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from aiohttp import web

from knowledge_base.entries import FaqEntry
from knowledge_base.live import LiveKnowledgeBase
from staff.api import Operation, json_object
from staff.errors import json_error

MAX_BULK = 500
ACTIONS = ("enable", "disable", "set_category", "delete")
MAX_CATEGORY_CHARS = 80


def _change(action: str, category: str) -> Callable[[FaqEntry], FaqEntry | None]:
    if action == "delete":
        return lambda entry: None
    if action == "set_category":
        return lambda entry: replace(entry, category=category)
    return lambda entry: replace(entry, enabled=action == "enable")


def _keys(raw: object) -> list[str] | None:
    if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_BULK:
        return None
    keys = []
    for item in raw:
        if not (
            isinstance(item, dict) and isinstance(item.get("locale"), str) and isinstance(item.get("id"), str)
        ):
            return None
        keys.append(f"{item['locale']}/{item['id']}")
    return list(dict.fromkeys(keys))


def bulk_operations(kb_of: Callable[[web.Request], LiveKnowledgeBase]) -> list[Operation]:
    """Return the bulk operation over the knowledge base ``kb_of`` finds for a request."""

    async def bulk_change(request: web.Request) -> web.StreamResponse:
        """Apply one action to many draft entries at once (published entries change at the next publish)."""
        body = await json_object(request)
        action, keys = body.get("action"), _keys(body.get("entries"))
        if action not in ACTIONS:
            return json_error(400, f"action: one of {', '.join(ACTIONS)}")
        if keys is None:
            return json_error(400, f'entries: 1 to {MAX_BULK} of {{"locale": ..., "id": ...}}')
        category = body.get("category", "")
        if action == "set_category" and not (
            isinstance(category, str) and 0 < len(category.strip()) <= MAX_CATEGORY_CHARS
        ):
            return json_error(400, f"category: 1 to {MAX_CATEGORY_CHARS} characters")
        changed, missing = await kb_of(request).store.change_entries(
            keys, _change(str(action), str(category).strip())
        )
        request["audit"] = {"action": action, "entries": changed, "category": category if category else None}
        return web.json_response({"changed": changed, "missing": missing})

    summary = "Switch many draft entries on or off, set their category, or delete them."
    return [
        Operation("POST", "/api/kb/entries/bulk", bulk_change, summary, body="Bulk", audit="kb_bulk_changed")
    ]
