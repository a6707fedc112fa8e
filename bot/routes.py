"""The engine's own routes (health, the demo page) and every staff feature's routes, in one table."""

from __future__ import annotations

import asyncio
from pathlib import Path

from aiohttp import web

from bot import answer_preview, erasure_api
from bot.appkeys import CHANNELS, DIALOGUE, REDIS, SETTINGS
from bot.settings import PROJECT_ROOT
from handoff.web import routes as handoff_routes
from knowledge_base.web import api as kb_routes
from knowledge_base.web.schemas import SCHEMAS as KB_SCHEMAS
from reports.web import api as reports_api
from reports.web import dashboard
from reports.web import prometheus as prometheus_routes
from staff import STAFF_STATIC, audit_api, login
from staff.api import add_operations, serve_openapi


async def healthz(request: web.Request) -> web.Response:
    """Answer 200 only when the model is loaded and Redis answers; 503 with the reason otherwise."""
    app = request.app
    slot = app[DIALOGUE]
    body: dict[str, object] = {"instance": app[SETTINGS].instance_id}
    try:
        await asyncio.wait_for(app[REDIS].ping(), timeout=2)
        body["redis"] = "ok"
    except Exception as exc:  # any failure to answer means "not healthy", whatever its cause
        body["redis"] = f"down: {type(exc).__name__}"
    if slot.dialogue is not None:
        body["model"] = slot.dialogue.model_name
    else:
        body["model"] = "failed" if slot.error else "loading"
        if slot.error:
            body["model_error"] = slot.error
    # A channel that cannot start leaves the others serving: the instance stays in the load balancer
    # (200) and says "degraded", with each channel's state and reason, for monitoring to read.
    channels = {c.name: dict(zip(("state", "reason"), c.health(), strict=True)) for c in app[CHANNELS]}
    body["channels"] = channels
    healthy = body["redis"] == "ok" and slot.dialogue is not None
    degraded = any(c["state"] != "ok" for c in channels.values())
    body["status"] = ("degraded" if degraded else "ok") if healthy else "unavailable"
    return web.json_response(body, status=200 if healthy else 503)


def add_routes(app: web.Application, web_dir: Path) -> None:
    """Add health, the minimal web chat page, the staff pages and APIs, and their OpenAPI document."""

    async def index(request: web.Request) -> web.FileResponse:
        return web.FileResponse(web_dir / "index.html")

    app.router.add_get("/healthz", healthz)
    prometheus_routes.register(app)
    app.router.add_get("/", index)
    app.router.add_static("/static/", web_dir, show_index=False)
    add_operations(app, login.operations())
    add_operations(app, erasure_api.operations())
    audit_api.register(app)
    # The staff pages' shared script (api, login, texts), imported as an ES module.
    app.router.add_static("/staff/", STAFF_STATIC, show_index=False)
    kb_routes.register(app)
    add_operations(app, answer_preview.operations())
    handoff_routes.register(app)
    add_operations(app, reports_api.operations())
    dashboard.register(app, PROJECT_ROOT / "node_modules" / "echarts" / "dist" / "echarts.min.js")
    serve_openapi(
        app,
        [
            *login.operations(),
            *erasure_api.operations(),
            *audit_api.operations(),
            *kb_routes.operations(),
            *answer_preview.operations(),
            *handoff_routes.operations(),
            *reports_api.operations(),
        ],
        {**login.SCHEMAS, **erasure_api.SCHEMAS, **KB_SCHEMAS, **handoff_routes.SCHEMAS},
    )
