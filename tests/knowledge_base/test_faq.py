"""The built-in FAQ and its matcher."""

from __future__ import annotations

from pathlib import Path

import pytest

from knowledge_base import answer, load_entries
from knowledge_base.faq import features, normalise


def test_normalise_folds_width_case_and_punctuation() -> None:
    assert normalise("ＨＥＬＬＯ，退款？？") == "hello 退款"


def test_features_are_han_bigrams_and_words() -> None:
    assert features("退款多久") == {"退款", "款多", "多久"}
    assert features("Refund time") == {"refund", "time"}


@pytest.mark.parametrize(
    ("question", "language", "entry"),
    [
        ("退款多久能到账？", "zh", "refund_time"),
        ("怎么退货呀", "zh", "return_policy"),
        ("密码忘了怎么办", "zh", "reset_password"),
        ("How do I track my order?", "en", "track_order"),
        ("what payment methods do you accept", "en", "payment_methods"),
    ],
)
def test_answers_in_the_customers_language(question: str, language: str, entry: str) -> None:
    found = answer(question, language)
    assert found is not None
    assert found.entry_id == entry
    assert found.matched_question
    assert 0 < found.score <= 1


@pytest.mark.parametrize(("question", "language"), [("今天天气怎么样", "zh"), ("paint my house", "en")])
def test_unrelated_question_gets_no_answer(question: str, language: str) -> None:
    assert answer(question, language) is None


def test_entry_without_answer_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "faq.yml"
    bad.write_text("entries:\n  - id: x\n    questions: [q]\n    answer: ''\n", encoding="utf-8")
    with pytest.raises(ValueError, match="needs questions and an answer"):
        load_entries(bad)
