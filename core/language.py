"""Detect whether a customer message is Chinese or English."""

from __future__ import annotations

import re
from typing import Literal

Language = Literal["zh", "en"]

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[A-Za-z\uff21-\uff3a\uff41-\uff5a]")
# Chat shorthand that Chinese customers type as often as English ones: it must not flip the language.
_AMBIGUOUS = frozenset({"ok", "okay", "k", "kk", "y", "n", "q", "3q", "88", "886"})
_WORD = re.compile(r"[A-Za-z0-9']+")


def detect_language(text: str) -> Language | None:
    """Return the language of ``text``, or None when it gives no reliable signal.

    Any Han character makes a message Chinese (customers mix English product names into Chinese
    sentences, rarely the reverse). A message of Latin letters is English unless it is a lone piece of
    shorthand such as "ok" that says nothing about the writer's language.
    """
    if _HAN.search(text):
        return "zh"
    if not _LATIN.search(text):
        return None
    words = _WORD.findall(text.lower())
    if len(words) == 1 and words[0] in _AMBIGUOUS:
        return None
    return "en"


def detect_language_or(text: str, previous: Language | None, default: Language = "zh") -> Language:
    """Return the detected language, else the conversation's previous one, else ``default``."""
    return detect_language(text) or previous or default
