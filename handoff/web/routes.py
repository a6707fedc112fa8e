"""Every handoff route: the agent console page, its live socket and the agents' and supervisors' API."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiohttp import web

from handoff.web import agent, canned, complaints, live, offline, profiles, quality, supervise
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
        *complaints.operations(),
        *quality.operations(),
    ]


SCHEMAS: dict[str, Any] = {
    **agent.SCHEMAS,
    **profiles.SCHEMAS,
    **supervise.SCHEMAS,
    **canned.SCHEMAS,
    **offline.SCHEMAS,
    **complaints.SCHEMAS,
    **quality.SCHEMAS,
}


def register(app: web.Application) -> None:
    """Add the console pages (``/agent``, its complaints and quality pages), its socket and the API."""

    async def page(request: web.Request) -> web.FileResponse:
        return web.FileResponse(WEB_DIR / "agent.html")

    async def complaints_page(request: web.Request) -> web.FileResponse:
        return web.FileResponse(WEB_DIR / "complaints.html")

    app.router.add_get("/agent", page)

    async def quality_page(request: web.Request) -> web.FileResponse:
        return web.FileResponse(WEB_DIR / "quality.html")

    app.router.add_get("/agent/complaints", complaints_page)
    app.router.add_get("/agent/quality", quality_page)
    app.router.add_static("/agent/static/", WEB_DIR / "static", show_index=False)
    add_operations(app, operations())
    live.register(app)
