"""The matcher's own n-gram analyzer against scikit-learn's."""

from __future__ import annotations

from collections import Counter

from sklearn.feature_extraction.text import TfidfVectorizer

from knowledge_base.features import char_wb_ngrams

TEXTS = [
    "How do I reset my PIN?",
    "a  I  ok   x",
    "Où est ma carte?\tRefund\nplease",
    "退款多久到账 refund 2–4 天",
    "",
    "   ",
    "supercalifragilistic expialidocious",
    "I'm   TOP-UP-ing £20!!",
]


def test_the_grams_are_scikit_learns_char_wb_grams() -> None:
    """Same n-grams with the same counts as ``analyzer="char_wb"``, for short, long and odd words."""
    reference = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 4)).build_analyzer()
    ours = char_wb_ngrams(1, 4)
    for text in TEXTS:
        assert Counter(ours(text)) == Counter(reference(text)), text
        assert Counter(ours(text)) == Counter(reference(text)), text  # again, from the cache


def test_other_ranges_match_too() -> None:
    """The short-word rule (a word shorter than n counts once) holds whatever the range."""
    for low, high in [(2, 5), (3, 3), (1, 1)]:
        reference = TfidfVectorizer(analyzer="char_wb", ngram_range=(low, high)).build_analyzer()
        ours = char_wb_ngrams(low, high)
        for text in TEXTS:
            assert Counter(ours(text)) == Counter(reference(text)), (low, high, text)
