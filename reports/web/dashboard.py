"""The supervisor dashboard page (``/reports``) and the charting library it loads from ``make ui``."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

WEB_DIR = Path(__file__).parent


def register(app: web.Application, echarts: Path) -> None:
    """Add ``/reports``, its script, and ``/vendor/echarts.min.js`` (the npm install at ``echarts``)."""
    installed = echarts.is_file()  # looked at once, at start-up: `make ui` runs before the engine

    async def page(request: web.Request) -> web.FileResponse:
        return web.FileResponse(WEB_DIR / "dashboard.html")

    async def library(request: web.Request) -> web.StreamResponse:
        if not installed:
            return web.json_response({"error": "the charting library is missing: run `make ui`"}, status=404)
        return web.FileResponse(echarts, headers={"Cache-Control": "public, max-age=86400"})

    app.router.add_get("/reports", page)
    app.router.add_get("/vendor/echarts.min.js", library)
    app.router.add_static("/reports/static/", WEB_DIR / "static", show_index=False)
