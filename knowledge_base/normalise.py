"""Text normalisation shared by indexing and querying, so both sides of a match see the same text."""

from __future__ import annotations

import functools
import logging
import re
import unicodedata
from collections.abc import Iterable, Mapping

import jieba
import opencc

_HAN = re.compile(r"[\u3400-\u9fff]")
_NON_WORD = re.compile(r"[\W_]+", re.UNICODE)
_SPACES = re.compile(r"\s+")
# Chinese digits become Arabic ones, so 七天无理由 and 7天无理由 meet. Single characters only: a mapping
# of 十/百 would need real number parsing, and consistency on both sides is what matching needs.
_DIGITS = str.maketrans("零〇一二三四五六七八九两", "001234567892")

jieba.setLogLevel(logging.WARNING)


@functools.lru_cache(maxsize=1)
def _t2s() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


def has_han(text: str) -> bool:
    """Return True when the text contains at least one Chinese character."""
    return _HAN.search(text) is not None


class Normaliser:
    """Folds width, case, punctuation, traditional characters and staff-defined synonyms."""

    def __init__(self, synonyms: Mapping[str, Iterable[str]] | None = None) -> None:
        """Build a normaliser; ``synonyms`` maps a canonical word to the variants that mean it."""
        pairs: list[tuple[str, str]] = []
        for canonical, variants in (synonyms or {}).items():
            target = self._fold(canonical)
            for variant in variants:
                folded = self._fold(variant)
                if folded and folded != target:
                    pairs.append((folded, target))
        # Longest variant first, so 退钱款 is not half-replaced by a shorter 退钱 rule.
        pairs.sort(key=lambda p: len(p[0]), reverse=True)
        self._pairs = tuple(pairs)
        self._pattern = re.compile("|".join(re.escape(v) for v, _ in pairs)) if pairs else None
        self._lookup = dict(pairs)

    @staticmethod
    def _fold(text: str) -> str:
        folded = unicodedata.normalize("NFKC", text).lower()
        if has_han(folded):
            folded = _t2s().convert(folded).translate(_DIGITS)
        return _SPACES.sub(" ", _NON_WORD.sub(" ", folded)).strip()

    def normalise(self, text: str) -> str:
        """Return the comparable form of ``text`` (NFKC, lower case, simplified, no punctuation)."""
        folded = self._fold(text)
        if self._pattern is not None:
            folded = self._pattern.sub(lambda m: self._lookup[m.group(0)], folded)
        return folded

    @staticmethod
    def words(normalised: str) -> list[str]:
        """Split normalised text into words: jieba for Chinese runs, spaces for everything else."""
        out: list[str] = []
        for chunk in normalised.split():
            if has_han(chunk):
                out.extend(w for w in jieba.lcut(chunk) if w.strip())
            else:
                out.append(chunk)
        return out
