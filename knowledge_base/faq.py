"""Built-in FAQ entries and a small, pure matcher over them.

This is the seam the dialogue uses; the knowledge-base issue replaces the scorer with the real
Chinese-first matcher and adds storage, versions and hot reload around it.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

DEFAULT_FAQ_FILE = Path(__file__).parent / "data" / "faq.yml"
ANSWER_THRESHOLD = 0.5

_PUNCT = re.compile(r"[\W_]+", re.UNICODE)
_HAN = re.compile(r"[\u4e00-\u9fff]")


@dataclass(frozen=True)
class FaqEntry:
    """One FAQ entry in one locale: its phrasings and its answer."""

    id: str
    locale: str
    questions: tuple[str, ...]
    answer: str


@dataclass(frozen=True)
class Answer:
    """The matcher's decision for one question, with why it matched."""

    entry_id: str
    text: str
    score: float
    matched_question: str


def normalise(text: str) -> str:
    """Fold width and case and drop punctuation, so 退款？ and 退款 compare equal."""
    folded = unicodedata.normalize("NFKC", text).lower()
    return _PUNCT.sub(" ", folded).strip()


def features(text: str) -> frozenset[str]:
    """Return the comparison units of a text: Han character bigrams and Latin words."""
    norm = normalise(text)
    units: set[str] = set()
    for chunk in norm.split():
        if _HAN.search(chunk):
            units.update(chunk[i : i + 2] for i in range(max(1, len(chunk) - 1)))
        else:
            units.add(chunk)
    return frozenset(units)


def similarity(a: frozenset[str], b: frozenset[str]) -> float:
    """Return the Dice coefficient of two feature sets."""
    if not a or not b:
        return 0.0
    return 2 * len(a & b) / (len(a) + len(b))


def load_entries(path: Path = DEFAULT_FAQ_FILE) -> tuple[FaqEntry, ...]:
    """Load FAQ entries from a YAML file; refuse entries without questions or answer."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    entries = []
    for raw in data.get("entries", []):
        questions = tuple(str(q) for q in raw.get("questions") or ())
        text = str(raw.get("answer") or "").strip()
        if not questions or not text:
            raise ValueError(f"{path}: entry {raw.get('id')!r} needs questions and an answer")
        entries.append(FaqEntry(str(raw["id"]), str(raw.get("locale", "zh-CN")), questions, text))
    return tuple(entries)


def best_match(
    question: str, entries: Iterable[FaqEntry], threshold: float = ANSWER_THRESHOLD
) -> Answer | None:
    """Return the best-scoring entry for ``question``, or None below ``threshold``."""
    query = features(question)
    best: Answer | None = None
    for entry in entries:
        for phrasing in entry.questions:
            score = similarity(query, features(phrasing))
            if best is None or score > best.score:
                best = Answer(entry.id, entry.answer, score, phrasing)
    if best is None or best.score < threshold:
        return None
    return best


@functools.lru_cache(maxsize=1)
def default_kb() -> tuple[FaqEntry, ...]:
    """Return the built-in FAQ, loaded once."""
    return load_entries()


def answer(question: str, language: str, entries: Sequence[FaqEntry] | None = None) -> Answer | None:
    """Answer ``question`` from entries in the customer's language (zh or en), or return None."""
    pool = default_kb() if entries is None else entries
    wanted = "en" if language == "en" else "zh-CN"
    return best_match(question, (e for e in pool if e.locale == wanted))
