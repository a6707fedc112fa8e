"""The routing policy in the agent API: what the settings page reads and saves (supervisors)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from handoff.routing_policy import PolicyError, Saved
from handoff.web.appkeys import QUEUE, ROUTING, SERVICE
from staff.api import Operation, json_object, session_of
from staff.errors import json_error


def _body(saved: Saved, defaults: dict[str, Any], teams: set[str]) -> dict[str, Any]:
    return {
        "policy": saved.policy.to_json(),
        "defaults": defaults,
        "changed_by": saved.by,
        "changed_at_ms": saved.at_ms,
        "teams": sorted(teams | saved.policy.auto_assign_teams),
    }


async def _teams(request: web.Request) -> set[str]:
    """Every team the deployment knows: its agents', its queues' and those with business hours."""
    queue, hours = request.app[QUEUE], request.app[SERVICE].hours
    teams = await queue.teams() | {team for agent in await queue.agents() for team in agent.teams}
    return teams | (set((await hours.all()).keys()) if hours else set())


async def get_routing(request: web.Request) -> web.StreamResponse:
    """The routing policy in force, the environment's defaults and the teams known to the queue."""
    routing = request.app[ROUTING]
    saved = await routing.refresh()
    return web.json_response(_body(saved, routing.defaults.to_json(), await _teams(request)))


async def put_routing(request: web.Request) -> web.StreamResponse:
    """Set the routing policy; every instance applies it within a second."""
    body = await json_object(request)
    routing = request.app[ROUTING]
    try:
        before, saved = await routing.set(body, session_of(request).username)
    except PolicyError as exc:
        return web.json_response({"error": str(exc), "field": exc.field}, status=400)
    # The audit entry says what changed, so a supervisor's review needs no second source.
    request["audit"] = {"before": before.policy.to_json(), "after": saved.policy.to_json()}
    return web.json_response(_body(saved, routing.defaults.to_json(), await _teams(request)))


async def delete_routing(request: web.Request) -> web.StreamResponse:
    """Return to the defaults the deployment's environment sets."""
    routing = request.app[ROUTING]
    before = await routing.reset()
    if not before.by:
        return json_error(404, "the defaults are already in force")
    request["audit"] = {"before": before.policy.to_json(), "after": routing.defaults.to_json()}
    return web.json_response(_body(routing.current, routing.defaults.to_json(), await _teams(request)))


def operations() -> list[Operation]:
    """Return the operations (the agent API's table shape)."""
    op = Operation
    return [
        op("GET", "/api/agent/routing", get_routing, "The routing policy in force.", "supervisor"),
        op(
            "PUT",
            "/api/agent/routing",
            put_routing,
            "Set the routing policy (tier boosts, auto-assign teams, offer timeout, KB misses).",
            "supervisor",
            "RoutingPolicy",
            audit="routing_changed",
        ),
        op(
            "DELETE",
            "/api/agent/routing",
            delete_routing,
            "Return to the environment's routing defaults.",
            "supervisor",
            audit="routing_reset",
        ),
    ]


_SECONDS = {"type": "number", "minimum": 0, "maximum": 86400}
SCHEMAS: dict[str, Any] = {
    "RoutingPolicy": {
        "type": "object",
        "required": [
            "tier_boost_seconds",
            "auto_assign_teams",
            "offer_timeout_seconds",
            "kb_misses_to_handoff",
        ],
        "properties": {
            "tier_boost_seconds": {
                "type": "object",
                "description": "Seconds a tier's customers are put ahead in line.",
                "properties": {"vip": _SECONDS, "regular": _SECONDS, "new": _SECONDS},
            },
            "auto_assign_teams": {
                "type": "array",
                "items": {"type": "string", "maxLength": 40},
                "description": "Teams whose conversations are assigned without the agent accepting.",
            },
            "offer_timeout_seconds": {"type": "number", "minimum": 5, "maximum": 600},
            "kb_misses_to_handoff": {
                "type": "integer",
                "minimum": 0,
                "maximum": 10,
                "description": "Knowledge-base misses in a row that queue a customer (0: never).",
            },
        },
    }
}
