"""Human handoff: the public functions the dialogue's actions and the router call.

The router sets the service for the message it is handling (a context variable, so in-process actions
see their own engine's service even when several engines share a process); in a standalone
``rasa run actions`` process, `bot.actions` sets the one `bot.wiring` builds.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from core.state import Transition
from handoff.complaints import Case
from handoff.hours import Closed
from handoff.queue import Position
from handoff.service import HandoffService

_current: ContextVar[HandoffService | None] = ContextVar("handoff_service", default=None)


@contextmanager
def using(service: HandoffService) -> Iterator[None]:
    """Make ``service`` the one the public functions use inside the ``with`` block."""
    token = _current.set(service)
    try:
        yield
    finally:
        _current.reset(token)


def current() -> HandoffService:
    """Return the service in use (the engine's router, or `bot.actions` in a standalone action server)."""
    service = _current.get()
    if service is None:
        raise RuntimeError("no handoff service in use: call inside handoff.using(...)")
    return service


def active() -> bool:
    """Return whether a service is in use in this context."""
    return _current.get() is not None


async def request_human(
    conversation_id: str, reason: str, actor: str = "bot", first_message: str = ""
) -> Transition:
    """Queue the conversation for a human agent."""
    return await current().request_human(conversation_id, reason, actor, first_message)


async def open_complaint(conversation_id: str, text: str, language: str) -> Case | None:
    """Record the customer's complaint as a case (or add to their open one); None when cases are off."""
    return await current().open_complaint(conversation_id, text, language)


async def outside_hours() -> Closed | None:
    """Return when the human team opens next while it is closed, else None."""
    return await current().outside_hours()


async def start_offline_message(conversation_id: str, language: str) -> None:
    """Take the customer's next message as a message for the agents (留言)."""
    await current().start_offline_message(conversation_id, language)


def long_wait(place: Position | None) -> bool:
    """Whether the expected wait is over the limit past which customers may leave a message instead."""
    return place is not None and place.expected_wait_seconds > current().max_wait_seconds


async def offer_rating(conversation_id: str, language: str) -> tuple[str, list[tuple[str, str]]] | None:
    """Ask to rate a bot-only conversation; return the prompt and buttons (None when ratings are off)."""
    return await current().offer_rating(conversation_id, language)


async def kb_outcome(conversation_id: str, escalated: bool) -> bool:
    """Record whether the knowledge base answered; True when this miss should bring a human."""
    return await current().kb_outcome(conversation_id, escalated)


async def position(conversation_id: str) -> Position | None:
    """Return the conversation's place in the human queue and the expected wait."""
    return await current().position(conversation_id)


__all__ = [
    "Closed",
    "HandoffService",
    "Position",
    "active",
    "current",
    "kb_outcome",
    "long_wait",
    "offer_rating",
    "outside_hours",
    "position",
    "request_human",
    "start_offline_message",
    "using",
]
