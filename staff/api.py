"""The staff API kit: one error type and its middleware, one JSON body reader, the operation table.

Every staff API (knowledge base, agents, supervisors) is a list of `Operation`s: the same table adds
the routes (guarded by `require` when the operation names a role) and writes the OpenAPI document, so
the two can never disagree.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from staff.accounts import COOKIE, Session
from staff.audit import AUDIT
from staff.auth import Handler, require
from staff.errors import ApiError

# Staff bodies are entries, golden-question lists and replies; files go through their own import limit.
MAX_JSON_BYTES = 1024 * 1024


async def read_json(request: web.Request) -> Any:
    """Read a JSON body of at most `MAX_JSON_BYTES`, or raise the 400/413 the client gets."""
    limit = MAX_JSON_BYTES
    if request.content_length is not None and request.content_length > limit:
        raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=request.content_length)
    raw = await request.content.read(limit + 1)
    if len(raw) > limit:
        raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=len(raw))
    try:
        return json.loads(raw or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ApiError(400, "the body is not valid JSON") from None


async def json_object(request: web.Request) -> dict[str, Any]:
    """Read a JSON object body (see `read_json`); anything else is a 400."""
    data = await read_json(request)
    if not isinstance(data, dict):
        raise ApiError(400, "send a JSON object")
    return data


def session_of(request: web.Request) -> Session:
    """Return the signed-in session that `require` put on the request."""
    session: Session = request["session"]
    return session


@dataclass(frozen=True)
class Operation:
    """One API route and its OpenAPI description."""

    method: str
    path: str
    handler: Handler
    summary: str
    role: str | None = "editor"
    body: str | None = None
    # The audit log's action for a successful call (reads of personal data, exports, changes).
    audit: str | None = None


# Query parameters never written to the audit log (secrets), and how long a value may be there.
_UNLOGGED_QUERY = frozenset({"token", "password"})
_MAX_LOGGED_VALUE = 200


def audited(action: str, handler: Handler) -> Handler:
    """Wrap a handler so that each call it answers below 400 leaves an audit entry.

    The entry names the signed-in user, the route's parameters and query, and whatever the handler
    added under ``request["audit"]`` (say, whether a phone number was shown). Writing it comes before
    the answer: a read that cannot be audited is not answered.
    """

    async def wrapped(request: web.Request) -> web.StreamResponse:
        response = await handler(request)
        if response.status < 400:
            session: Session | None = request.get("session")
            detail: dict[str, Any] = {
                key: value[:_MAX_LOGGED_VALUE]
                for key, value in request.query.items()
                if key not in _UNLOGGED_QUERY
            }
            detail.update(request.get("audit", {}))
            target = "/".join(request.match_info.values())
            await request.config_dict[AUDIT].record(
                session.username if session else "anonymous",
                action,
                target,
                detail,
                request.remote or "",
            )
        return response

    wrapped.__doc__ = handler.__doc__
    wrapped.__name__ = handler.__name__
    return wrapped


def add_operations(app: web.Application, operations: Iterable[Operation]) -> None:
    """Add each operation's route, behind `require` when it names a role, audited when it says so."""
    for o in operations:
        handler = audited(o.audit, o.handler) if o.audit else o.handler
        handler = require(o.role)(handler) if o.role else handler
        app.router.add_route(o.method, o.path, handler)


def _error_body() -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}


def _describe(o: Operation) -> dict[str, Any]:
    item: dict[str, Any] = {
        "summary": o.summary,
        "operationId": f"{o.handler.__name__}_{o.method.lower()}",
        "responses": {
            "200": {"description": "OK"},
            "400": {"description": "Bad input", "content": _error_body()},
        },
    }
    if o.audit:
        item["x-audit-action"] = o.audit  # each successful call is written to the audit log
    if o.role:
        item["security"] = [{"session": []}]
        item["responses"]["401"] = {"description": "Not logged in"}
        item["responses"]["403"] = {"description": f"Needs the {o.role} role or the CSRF token"}
    params = [p.strip("{}") for p in o.path.split("/") if p.startswith("{")]
    if params:
        item["parameters"] = [
            {"name": p, "in": "path", "required": True, "schema": {"type": "string"}} for p in params
        ]
    if o.body == "File":
        item["requestBody"] = {
            "content": {"application/octet-stream": {"schema": {"$ref": "#/components/schemas/File"}}}
        }
    elif o.body:
        item["requestBody"] = {
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{o.body}"}}}
        }
    return item


COMMON_SCHEMAS: dict[str, Any] = {
    "File": {"type": "string", "format": "binary"},
    "Error": {"type": "object", "properties": {"error": {"type": "string"}}},
}


def openapi_document(operations: Iterable[Operation], schemas: Mapping[str, Any]) -> dict[str, Any]:
    """Build the OpenAPI 3.1 document from the operation tables and their body schemas."""
    paths: dict[str, dict[str, Any]] = {}
    for o in operations:
        paths.setdefault(o.path, {})[o.method.lower()] = _describe(o)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Customer-service engine API", "version": "1"},
        "paths": paths,
        "components": {
            "schemas": {**COMMON_SCHEMAS, **schemas},
            "securitySchemes": {"session": {"type": "apiKey", "in": "cookie", "name": COOKIE}},
        },
    }


def serve_openapi(app: web.Application, operations: Iterable[Operation], schemas: Mapping[str, Any]) -> None:
    """Serve the OpenAPI document of ``operations`` at ``/api/openapi.json``."""
    document = openapi_document(operations, schemas)

    async def openapi(request: web.Request) -> web.StreamResponse:
        return web.json_response(document)

    app.router.add_get("/api/openapi.json", openapi)
