"""Security headers on the staff pages and APIs: no framing, no sniffing, scripts only from this server."""

from __future__ import annotations

from aiohttp import web

# Only what the staff app needs: its own scripts and styles (inline style attributes, which ECharts
# and the pages set), images from anywhere over https (FAQ images, customers' photos), its own API and
# sockets. No page of it may be framed: a framed console could be clickjacked into a take-over.
STAFF_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob: https:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
STAFF_PREFIXES = ("/agent", "/admin", "/kb", "/reports", "/api/", "/staff/", "/vendor/")


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """Add the headers before a response goes out (static files and errors included)."""
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    if request.path.startswith(STAFF_PREFIXES):
        response.headers.setdefault("Content-Security-Policy", STAFF_POLICY)
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
