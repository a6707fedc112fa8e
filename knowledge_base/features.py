"""What the matcher counts in a text: Han characters for Chinese, words, bigrams and n-grams for English."""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Callable

from sklearn.feature_extraction.text import TfidfVectorizer

from knowledge_base.normalise import Normaliser

_HAN_OR_WORD = re.compile(r"[\u3400-\u9fff]|[^\W\u3400-\u9fff]+")


def _han_units(text: str) -> list[str]:
    """Return each Han character and each run of other word characters (Latin words, digits)."""
    return _HAN_OR_WORD.findall(text)


def _analyzer(normaliser: Normaliser) -> Callable[[str], list[str]]:
    def words_and_bigrams(text: str) -> list[str]:
        words = normaliser.words(text)
        return words + [f"{a} {b}" for a, b in itertools.pairwise(words)]

    return words_and_bigrams


def char_wb_ngrams(low: int, high: int) -> Callable[[str], list[str]]:
    """Return scikit-learn's ``char_wb`` analyzer (lower case, grams inside padded words), memoised per word.

    Phrasings repeat their words, and scikit-learn's loop cut every word into n-grams again each time:
    0.9 s of a 15,000-phrasing build. The grams are the same (tests/knowledge_base/test_features.py).
    """

    @functools.lru_cache(maxsize=1 << 16)  # bounded: queries bring words the KB never had
    def grams(word: str) -> tuple[str, ...]:
        padded = f" {word} "
        found: list[str] = []
        for n in range(low, high + 1):
            if len(padded) <= n:
                found.append(padded)  # a short word counts once, as scikit-learn counts it
                break
            found.extend(padded[i : i + n] for i in range(len(padded) - n + 1))
        return tuple(found)

    def analyse(text: str) -> list[str]:
        found: list[str] = []
        for word in text.lower().split():
            found.extend(grams(word))
        return found

    return analyse


def vectorizers(features: str, normaliser: Normaliser) -> list[TfidfVectorizer]:
    """Return the TF-IDF vectorizers of a locale's feature set."""
    if features == "zh":
        # Measured on lcqmc_faq and bq_faq dev: single Han characters (plus Latin words) beat
        # jieba words, character bigrams and trigrams, alone or combined (bench/RESULTS.md).
        return [TfidfVectorizer(analyzer=_han_units, sublinear_tf=True, norm=None)]
    return [
        TfidfVectorizer(analyzer=_analyzer(normaliser), sublinear_tf=True, norm=None),
        TfidfVectorizer(analyzer=char_wb_ngrams(1, 4), sublinear_tf=True, norm=None),
    ]
