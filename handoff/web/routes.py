"""Every handoff route: the agent console page, its live socket and the agents' and supervisors' API."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from handoff.web import agent, canned, complaints, live, offline, profiles, quality, routing, supervise
from staff.api import Operation, add_operations

WEB_DIR = Path(__file__).parent


def operations() -> list[Operation]:
    """Return the handoff API's operations, the single source for its routes and OpenAPI."""
    return [
        *agent.operations(),
        *profiles.operations(),
        *supervise.operations(),
        *canned.operations(),
        *offline.operations(),
        *routing.operations(),
        *complaints.operations(),
        *quality.operations(),
    ]


SCHEMAS: dict[str, Any] = {
    **agent.SCHEMAS,
    **profiles.SCHEMAS,
    **supervise.SCHEMAS,
    **canned.SCHEMAS,
    **offline.SCHEMAS,
    **routing.SCHEMAS,
    **complaints.SCHEMAS,
    **quality.SCHEMAS,
}


def _page(file: Path) -> Callable[[web.Request], Awaitable[web.FileResponse]]:
    async def page(request: web.Request) -> web.FileResponse:
        return web.FileResponse(file)

    return page


def register(app: web.Application) -> None:
    """Add the console pages (``/agent``, complaints, quality, ``/settings``), its socket and the API."""
    for path, name in (
        ("/agent", "agent.html"),
        ("/agent/complaints", "complaints.html"),
        ("/agent/quality", "quality.html"),
        ("/settings", "settings.html"),
    ):
        app.router.add_get(path, _page(WEB_DIR / name))
    app.router.add_static("/agent/static/", WEB_DIR / "static", show_index=False)
    add_operations(app, operations())
    live.register(app)
