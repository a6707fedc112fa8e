"""The FAQ entry model and its validation; every import path and the API go through ``parse_entry``."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

LOCALES = ("zh-CN", "en")
MAX_QUESTION_CHARS = 500
MAX_ANSWER_CHARS = 5000
# Ids appear in URLs and in the draft key "locale/id": no slash, no whitespace, no control characters.
_HAN = re.compile(r"[\u3400-\u9fff]")
_ID = re.compile(r"^[^\s/\\\x00-\x1f]{1,80}$")


class EntryError(ValueError):
    """An entry that cannot be stored, with a message content staff can act on."""


@dataclass(frozen=True)
class EntryButton:
    """A reply button under an answer: what it shows and what it sends back."""

    title: str
    payload: str


@dataclass(frozen=True)
class FaqEntry:
    """One FAQ entry in one locale: standard question, alternative phrasings and the answer."""

    id: str
    question: str
    answer: str
    locale: str = "zh-CN"
    alternatives: tuple[str, ...] = ()
    category: str = ""
    tags: tuple[str, ...] = ()
    channel_answers: Mapping[str, str] = field(default_factory=dict)
    buttons: tuple[EntryButton, ...] = ()
    image_url: str = ""
    enabled: bool = True
    valid_from: str = ""
    valid_until: str = ""
    answer_threshold: float | None = None
    suggest_threshold: float | None = None

    @property
    def questions(self) -> tuple[str, ...]:
        """Return the standard question followed by every alternative phrasing."""
        return (self.question, *self.alternatives)

    def is_live(self, now: dt.datetime) -> bool:
        """Return True when the entry is enabled and ``now`` is inside its validity window."""
        if not self.enabled:
            return False
        if self.valid_from and now < _parse_time(self.valid_from):
            return False
        return not (self.valid_until and now >= _parse_time(self.valid_until))

    def answer_for(self, channel: str) -> str:
        """Return the answer text for ``channel``, falling back to the common answer."""
        return self.channel_answers.get(channel) or self.answer

    def to_dict(self) -> dict[str, Any]:
        """Return the entry as plain JSON-ready data, leaving out empty optional fields."""
        data = asdict(self)
        data["alternatives"] = list(self.alternatives)
        data["tags"] = list(self.tags)
        data["channel_answers"] = dict(self.channel_answers)
        data["buttons"] = [asdict(b) for b in self.buttons]
        return {k: v for k, v in data.items() if v not in ("", None, [], {}) or k in _REQUIRED}


_REQUIRED = {"id", "question", "answer", "locale", "enabled"}


def _parse_time(value: str) -> dt.datetime:
    parsed = dt.datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)


def _text(raw: Any, name: str, limit: int) -> str:
    if raw is None:
        return ""
    if not isinstance(raw, (str, int, float)) or isinstance(raw, bool):
        raise EntryError(f"{name} must be text")
    text = str(raw).strip()
    if len(text) > limit:
        raise EntryError(f"{name} is longer than {limit} characters")
    return text


def _texts(raw: Any, name: str, limit: int) -> tuple[str, ...]:
    if raw is None or raw == "":
        return ()
    if isinstance(raw, str):
        # Spreadsheet cells hold several phrasings separated by newlines or "|".
        raw = re.split(r"[\n|]", raw)
    if not isinstance(raw, Iterable):
        raise EntryError(f"{name} must be a list of texts")
    seen: dict[str, None] = {}
    for item in raw:
        text = _text(item, name, limit)
        if text:
            seen.setdefault(text, None)
    return tuple(seen)


def _threshold(raw: Any, name: str) -> float | None:
    if raw is None or raw == "":
        return None
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise EntryError(f"{name} must be a number") from None
    if not -10.0 <= value <= 10.0:
        raise EntryError(f"{name} is out of range")
    return value


def _flag(raw: Any) -> bool:
    if raw is None or raw == "":
        return True
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in {"1", "true", "yes", "y", "是", "启用", "on"}:
        return True
    if text in {"0", "false", "no", "n", "否", "停用", "off"}:
        return False
    raise EntryError(f"enabled must be true or false, not {raw!r}")


def _time(raw: Any, name: str) -> str:
    if raw is None or raw == "":
        return ""
    if isinstance(raw, dt.datetime):
        return raw.isoformat()
    text = _text(raw, name, 40)
    try:
        _parse_time(text)
    except ValueError:
        raise EntryError(f"{name} must be an ISO date/time such as 2026-12-01T00:00:00+08:00") from None
    return text


def _buttons(raw: object, entry_id: str) -> tuple[EntryButton, ...]:
    """Validate an entry's quick-reply buttons (a title each; the payload defaults to the title)."""
    if not raw:
        return ()
    if not isinstance(raw, list):
        raise EntryError(f"entry {entry_id}: buttons must be a list")
    buttons = []
    for button in raw:
        if not isinstance(button, Mapping):
            raise EntryError(f"entry {entry_id}: each button needs a title and a payload")
        title = _text(button.get("title"), "button title", 60)
        payload = _text(button.get("payload"), "button payload", 200) or title
        if not title:
            raise EntryError(f"entry {entry_id}: each button needs a title")
        buttons.append(EntryButton(title, payload))
    return tuple(buttons)


def parse_entry(raw: Mapping[str, Any]) -> FaqEntry:
    """Validate plain data (from YAML, JSON, CSV or the API) into an entry, or raise EntryError."""
    if not isinstance(raw, Mapping):
        raise EntryError("an entry must be an object")
    entry_id = _text(raw.get("id"), "id", 80)
    if not _ID.match(entry_id):
        raise EntryError("id must be 1-80 characters without spaces or slashes")
    questions = list(_texts(raw.get("questions"), "questions", MAX_QUESTION_CHARS))
    question = _text(raw.get("question"), "question", MAX_QUESTION_CHARS) or (
        questions.pop(0) if questions else ""
    )
    alternatives = _texts(raw.get("alternatives"), "alternatives", MAX_QUESTION_CHARS)
    alternatives = tuple(dict.fromkeys(q for q in (*questions, *alternatives) if q != question))
    answer = _text(raw.get("answer"), "answer", MAX_ANSWER_CHARS)
    if not question:
        raise EntryError(f"entry {entry_id}: needs at least one question")
    if not answer:
        raise EntryError(f"entry {entry_id}: needs an answer")
    # Files without a locale column (such as the neutral JSONL format) get it from the text.
    locale = _text(raw.get("locale"), "locale", 10) or (
        "zh-CN" if any(_HAN.search(q) for q in (question, *alternatives)) else "en"
    )
    if locale not in LOCALES:
        raise EntryError(f"entry {entry_id}: locale must be one of {', '.join(LOCALES)}")
    channel_answers = raw.get("channel_answers") or {}
    if not isinstance(channel_answers, Mapping):
        raise EntryError(f"entry {entry_id}: channel_answers must map a channel to a text")
    buttons = _buttons(raw.get("buttons"), entry_id)
    try:
        return FaqEntry(
            id=entry_id,
            question=question,
            answer=answer,
            locale=locale,
            alternatives=alternatives,
            category=_text(raw.get("category"), "category", 80),
            tags=_texts(raw.get("tags"), "tags", 40),
            channel_answers={
                _text(k, "channel", 40): _text(v, "channel answer", MAX_ANSWER_CHARS)
                for k, v in channel_answers.items()
            },
            buttons=buttons,
            image_url=_text(raw.get("image_url"), "image_url", 2000),
            enabled=_flag(raw.get("enabled")),
            valid_from=_time(raw.get("valid_from"), "valid_from"),
            valid_until=_time(raw.get("valid_until"), "valid_until"),
            answer_threshold=_threshold(raw.get("answer_threshold"), "answer_threshold"),
            suggest_threshold=_threshold(raw.get("suggest_threshold"), "suggest_threshold"),
        )
    except EntryError as exc:
        message = str(exc)
        raise EntryError(
            message if message.startswith("entry ") else f"entry {entry_id}: {message}"
        ) from None
