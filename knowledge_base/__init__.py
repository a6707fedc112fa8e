"""Knowledge base: FAQ entries, the matcher that answers from them, versions and hot reload.

The dialogue's actions call :func:`find` and :func:`record_unanswered`; the router makes its engine's
live knowledge base current with :func:`using` (a context variable, as for handoff). A standalone
``rasa run actions`` process follows the knowledge base in ``REDIS_URL`` itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from knowledge_base.entries import EntryError, FaqEntry, parse_entry
from knowledge_base.index import Found, KnowledgeIndex, locale_for
from knowledge_base.live import LiveKnowledgeBase
from knowledge_base.matcher import Band, Decision, Thresholds

_current: ContextVar[LiveKnowledgeBase | None] = ContextVar("knowledge_base", default=None)
_from_env: LiveKnowledgeBase | None = None


@contextmanager
def using(kb: LiveKnowledgeBase) -> Iterator[None]:
    """Make ``kb`` the knowledge base the public functions use inside the ``with`` block."""
    token = _current.set(kb)
    try:
        yield
    finally:
        _current.reset(token)


async def current() -> LiveKnowledgeBase:
    """Return the knowledge base in use, or one following ``REDIS_URL`` for a standalone action server."""
    global _from_env
    kb = _current.get()
    if kb is not None:
        return kb
    if _from_env is None:
        from bot.redis_conn import async_client
        from bot.settings import Settings

        settings = Settings.from_env()
        if not settings.redis_url:
            raise RuntimeError("REDIS_URL must be set for a standalone action server")
        _from_env = LiveKnowledgeBase(async_client(settings.redis_url), settings.redis_prefix)
        await _from_env.start()
    return _from_env


async def find(question: str, language: str | None) -> Found | None:
    """Match a customer's question against the live knowledge base."""
    return (await current()).find(question, language)


async def record_unanswered(found: Found | None, text: str, language: str | None, source: str) -> None:
    """Count a question the bot could not answer in the content-staff inbox."""
    await (await current()).record_unanswered(found, text, language, source)


__all__ = [
    "Band",
    "Decision",
    "EntryError",
    "FaqEntry",
    "Found",
    "KnowledgeIndex",
    "LiveKnowledgeBase",
    "Thresholds",
    "current",
    "find",
    "locale_for",
    "parse_entry",
    "record_unanswered",
    "using",
]
