"""Human handoff: the public functions the dialogue's actions and the router call.

The router sets the service for the message it is handling (a context variable, so in-process actions
see their own engine's service even when several engines share a process); a standalone
``rasa run actions`` process builds one from the environment (``REDIS_URL``) the first time it needs it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from bot.state import Transition
from handoff.queue import HandoffQueue, Position
from handoff.service import HandoffService

_current: ContextVar[HandoffService | None] = ContextVar("handoff_service", default=None)
_from_env: HandoffService | None = None


@contextmanager
def using(service: HandoffService) -> Iterator[None]:
    """Make ``service`` the one the public functions use inside the ``with`` block."""
    token = _current.set(service)
    try:
        yield
    finally:
        _current.reset(token)


def current() -> HandoffService:
    """Return the service in use, or one built from the environment for a standalone action server."""
    global _from_env
    service = _current.get()
    if service is not None:
        return service
    if _from_env is None:
        from bot.keys import Keys
        from bot.redis_conn import async_client
        from bot.settings import Settings
        from bot.state import ConversationStates

        settings = Settings.from_env()
        if not settings.redis_url:
            raise RuntimeError("REDIS_URL must be set for a standalone action server")
        client = async_client(settings.redis_url)
        keys = Keys(settings.redis_prefix)
        states = ConversationStates(client, keys)
        queue = HandoffQueue(client, settings.redis_prefix, states)
        _from_env = HandoffService(client, keys, states, queue, settings.handoff_team)
    return _from_env


async def request_human(
    conversation_id: str, reason: str, actor: str = "bot", first_message: str = ""
) -> Transition:
    """Queue the conversation for a human agent."""
    return await current().request_human(conversation_id, reason, actor, first_message)


async def position(conversation_id: str) -> Position | None:
    """Return the conversation's place in the human queue and the expected wait."""
    return await current().position(conversation_id)


__all__ = ["HandoffService", "Position", "current", "position", "request_human", "using"]
