"""Quality inspection (质检) in the staff API: the checklist, samples, reviews; agents read their own."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from aiohttp import web

from handoff.quality import Criterion, QualityError
from handoff.web.appkeys import QUALITY, TRANSCRIPTS
from staff.api import Operation, json_object, session_of
from staff.errors import json_error


def _criteria(checklist: Sequence[Criterion]) -> list[dict[str, Any]]:
    return [asdict(criterion) for criterion in checklist]


async def get_checklist(request: web.Request) -> web.StreamResponse:
    """The checklist conversations are scored against (every agent may read what they are judged by)."""
    return web.json_response({"criteria": _criteria(await request.app[QUALITY].checklist())})


async def put_checklist(request: web.Request) -> web.StreamResponse:
    """Replace the checklist (quality staff)."""
    body = await json_object(request)
    try:
        criteria = await request.app[QUALITY].set_checklist(body.get("criteria"))
    except QualityError as exc:
        return json_error(400, str(exc))
    return web.json_response({"criteria": _criteria(criteria)})


async def list_samples(request: web.Request) -> web.StreamResponse:
    """Conversations waiting for review, oldest first."""
    return web.json_response({"samples": await request.app[QUALITY].samples()})


async def sample_transcript(request: web.Request) -> web.StreamResponse:
    """A sampled (or reviewed) conversation's transcript, for its reviewer."""
    conversation = request.match_info["conversation"]
    quality = request.app[QUALITY]
    if not await quality.is_sampled(conversation):
        return json_error(404, "this conversation is not sampled for review")
    lines = await request.app[TRANSCRIPTS].read(conversation)
    return web.json_response({"conversation": conversation, "lines": [line.to_dict() for line in lines]})


async def add_review(request: web.Request) -> web.StreamResponse:
    """Score a sampled conversation against the checklist."""
    body = await json_object(request)
    conversation, scores = body.get("conversation"), body.get("scores")
    comments, comment = body.get("comments") or {}, body.get("comment") or ""
    if not isinstance(conversation, str) or not isinstance(scores, dict):
        return json_error(400, "send conversation and scores (criterion id → 0-5)")
    if not isinstance(comments, dict) or not isinstance(comment, str):
        return json_error(400, "comments is an object of criterion id → text; comment a text")
    try:
        review = await request.app[QUALITY].review(
            conversation, session_of(request).username, scores, comments, comment
        )
    except KeyError:
        return json_error(404, "this conversation is not sampled for review")
    except QualityError as exc:
        return json_error(400, str(exc))
    return web.json_response(review.view(), status=201)


async def agent_reviews(request: web.Request) -> web.StreamResponse:
    """One agent's reviews and mean score (quality staff)."""
    agent = request.query.get("agent", "")
    if not agent:
        return json_error(400, "name the agent: ?agent=")
    return await _reviews(request, agent)


async def my_reviews(request: web.Request) -> web.StreamResponse:
    """The signed-in agent's own reviews and mean score."""
    return await _reviews(request, session_of(request).username)


async def _reviews(request: web.Request, agent: str) -> web.StreamResponse:
    quality = request.app[QUALITY]
    reviews = await quality.reviews_of(agent)
    mean, count = await quality.average(agent)
    return web.json_response(
        {"agent": agent, "average": mean, "count": count, "reviews": [r.view() for r in reviews]}
    )


def operations() -> list[Operation]:
    """Return the operations (the staff API's table shape)."""
    op = Operation
    base = "/api/quality"
    return [
        op("GET", base + "/checklist", get_checklist, "The quality checklist.", "agent"),
        op(
            "PUT",
            base + "/checklist",
            put_checklist,
            "Replace the quality checklist.",
            "quality",
            "Checklist",
            audit="quality_checklist_changed",
        ),
        op("GET", base + "/samples", list_samples, "Conversations waiting for review.", "quality"),
        op(
            "GET",
            base + "/samples/{conversation}",
            sample_transcript,
            "A sampled conversation's transcript.",
            "quality",
        ),
        op("POST", base + "/reviews", add_review, "Score a sampled conversation.", "quality", "Review"),
        op("GET", base + "/reviews", agent_reviews, "One agent's reviews (?agent=).", "quality"),
        op("GET", base + "/reviews/mine", my_reviews, "Your own reviews.", "agent"),
    ]


SCHEMAS: dict[str, Any] = {
    "Checklist": {
        "type": "object",
        "required": ["criteria"],
        "properties": {
            "criteria": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["id", "name", "weight"],
                    "properties": {
                        "id": {"type": "string", "example": "greeting"},
                        "name": {"type": "string", "example": "开场问候"},
                        "weight": {"type": "integer", "example": 10},
                        "description": {"type": "string"},
                    },
                },
            }
        },
    },
    "Review": {
        "type": "object",
        "required": ["conversation", "scores"],
        "properties": {
            "conversation": {"type": "string", "example": "telegram:42"},
            "scores": {
                "type": "object",
                "additionalProperties": {"type": "integer", "minimum": 0, "maximum": 5},
            },
            "comments": {"type": "object", "additionalProperties": {"type": "string"}},
            "comment": {"type": "string"},
        },
    },
}
