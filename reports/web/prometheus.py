"""``GET /metrics`` (optionally behind a bearer token) and the middleware that counts HTTP requests."""

from __future__ import annotations

import asyncio
import hmac
import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Handler
from prometheus_client import CONTENT_TYPE_LATEST

from reports.prometheus import EngineMetrics, GaugeSource

METRICS = web.AppKey("metrics", EngineMetrics)
GAUGES: web.AppKey[GaugeSource] = web.AppKey("metrics_gauges")
PING: web.AppKey[Callable[[], Awaitable[object]]] = web.AppKey("metrics_ping")
TOKEN = web.AppKey("metrics_token", str)
# A scrape must answer even when Redis is slow: the cluster gauges are skipped past this.
SCRAPE_TIMEOUT_SECONDS = 2.0


def _route(request: web.Request) -> str:
    """The route's template (``/api/agent/complaints/{case}``), never the raw path: bounded labels."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


@web.middleware
async def count_requests(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Count every request by route and status, with its latency."""
    metrics = request.app[METRICS]
    started, status = time.perf_counter(), 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        route = _route(request)
        metrics.http_requests.labels(request.method, route, str(status)).inc()
        metrics.http_seconds.labels(request.method, route).observe(time.perf_counter() - started)


async def scrape(request: web.Request) -> web.StreamResponse:
    """Serve the metrics in the Prometheus text format."""
    token = request.app[TOKEN]
    if token:
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), token.encode()):
            return web.json_response({"error": "metrics need the bearer token"}, status=401)
    metrics = request.app[METRICS]
    try:
        await asyncio.wait_for(
            metrics.refresh(request.app[PING], request.app[GAUGES]), SCRAPE_TIMEOUT_SECONDS
        )
    except asyncio.TimeoutError:
        metrics.redis_up.set(0)
    return web.Response(body=metrics.render(), headers={"Content-Type": CONTENT_TYPE_LATEST})


def register(app: web.Application) -> None:
    """Add ``GET /metrics`` to ``app`` (its METRICS, GAUGES, PING and TOKEN keys are set by the caller)."""
    app.router.add_get("/metrics", scrape)
