"""The audit log's API: admins search who read or changed what."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from aiohttp import web

from staff.api import Operation, add_operations
from staff.audit import AUDIT
from staff.errors import ApiError

MAX_LIMIT = 1000
PAGE = Path(__file__).parent / "audit.html"


def _instant(value: str, end_of_day: bool) -> float | None:
    """Read a date (YYYY-MM-DD, UTC) or an ISO time; None when not given."""
    if not value:
        return None
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError:
        raise ApiError(400, "from and to are dates (YYYY-MM-DD) or ISO times") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    if end_of_day and len(value) == 10:
        when += dt.timedelta(days=1) - dt.timedelta(milliseconds=1)
    return when.timestamp()


async def search(request: web.Request) -> web.StreamResponse:
    """Entries newest first, filtered by ?actor= ?action= ?target= (a part of it) ?from= ?to= ?limit=."""
    query = request.query
    try:
        limit = max(1, min(MAX_LIMIT, int(query.get("limit", "200"))))
    except ValueError:
        raise ApiError(400, "limit is a whole number") from None
    entries = await request.config_dict[AUDIT].search(
        actor=query.get("actor", "")[:100],
        action=query.get("action", "")[:100],
        target=query.get("target", "")[:200],
        since=_instant(query.get("from", ""), end_of_day=False),
        until=_instant(query.get("to", ""), end_of_day=True),
        limit=limit,
    )
    return web.json_response({"entries": [e.to_dict() for e in entries]})


def operations() -> list[Operation]:
    """Return the audit API's operations (admins only; searching is itself audited)."""
    return [
        Operation(
            "GET", "/api/audit", search, "Search the audit log (admins).", "admin", audit="audit_searched"
        )
    ]


def register(app: web.Application) -> None:
    """Add the admins' audit page (``/admin/audit``) and its API."""

    async def page(request: web.Request) -> web.FileResponse:
        return web.FileResponse(PAGE)

    app.router.add_get("/admin/audit", page)
    add_operations(app, operations())
