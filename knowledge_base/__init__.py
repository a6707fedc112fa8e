"""Knowledge base: FAQ entries, the matcher that answers from them, versions and hot reload.

The dialogue's actions call :func:`find` and :func:`record_unanswered`; the router makes its engine's
live knowledge base current with :func:`using` (a context variable, as for handoff). In a standalone
``rasa run actions`` process, `bot.actions` sets the one `bot.wiring` builds.
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
# Inside `one_turn`: what the KB found for each (question, language) so far. A dict shared by
# reference, so a context copied for a task inside the turn still sees and fills the same one.
_turn: ContextVar[dict[tuple[str, str | None], Found | None] | None] = ContextVar("kb_turn", default=None)


@contextmanager
def using(kb: LiveKnowledgeBase) -> Iterator[None]:
    """Make ``kb`` the knowledge base the public functions use inside the ``with`` block."""
    token = _current.set(kb)
    try:
        yield
    finally:
        _current.reset(token)


async def current() -> LiveKnowledgeBase:
    """Return the knowledge base in use (set by the engine's router, or by `bot.actions` standalone)."""
    kb = _current.get()
    if kb is None:
        raise RuntimeError("no knowledge base in use: call inside knowledge_base.using(...)")
    return kb


def active() -> bool:
    """Return whether a knowledge base is in use in this context."""
    return _current.get() is not None


@contextmanager
def one_turn() -> Iterator[None]:
    """Match each question once inside the block: a second `find` of it returns the first result."""
    token = _turn.set({})
    try:
        yield
    finally:
        _turn.reset(token)


async def find(question: str, language: str | None) -> Found | None:
    """Match a customer's question against the live knowledge base (once per turn, see `one_turn`)."""
    memo = _turn.get()
    if memo is not None and (question, language) in memo:
        return memo[(question, language)]
    found = (await current()).find(question, language)
    if memo is not None:
        memo[(question, language)] = found
    return found


async def note_band(band: Band, conversation_id: str, message_id: str, found: Found | None = None) -> None:
    """Count how the bot used the KB for one question (its band, and the entries behind it)."""
    kb = await current()
    kb.usage.count(found)
    await kb.on_band(band.value, conversation_id, message_id)


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
    "active",
    "current",
    "find",
    "locale_for",
    "note_band",
    "one_turn",
    "parse_entry",
    "record_unanswered",
    "using",
]
