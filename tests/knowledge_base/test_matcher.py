"""The matcher's three bands, explanations, exact phrasings and per-entry thresholds."""

from __future__ import annotations

import pytest

from knowledge_base.entries import parse_entry
from knowledge_base.formats import load_bytes
from knowledge_base.index import KnowledgeIndex
from knowledge_base.live import SEED_FILE
from knowledge_base.matcher import Band, Matcher, Phrasing, Thresholds


@pytest.fixture(scope="module")
def seed() -> KnowledgeIndex:
    return KnowledgeIndex(load_bytes(SEED_FILE.read_bytes(), "yaml"))


@pytest.mark.parametrize(
    ("question", "locale", "entry"),
    [
        ("退款多久能到账？", "zh-CN", "refund_time"),
        ("我想退货怎么弄", "zh-CN", "return_policy"),
        ("發票怎麼開", "zh-CN", "invoice"),  # traditional characters
        ("7天无理由退货吗", "zh-CN", "return_policy"),  # the FAQ says 七天
        ("密码忘了怎么办", "zh-CN", "reset_password"),
        ("How do I track my order?", "en", "track_order"),
        ("what payment methods do you accept", "en", "payment_methods"),
    ],
)
def test_known_questions_are_answered(seed: KnowledgeIndex, question: str, locale: str, entry: str) -> None:
    found = seed.find(question, locale)
    assert found is not None
    assert found.decision.band is Band.ANSWER, found.decision.explain()
    assert found.entry is not None
    assert found.entry.id == entry


@pytest.mark.parametrize(
    ("question", "locale"),
    [("今天天气怎么样", "zh-CN"), ("你们能帮我修自行车吗", "zh-CN"), ("what is the meaning of life", "en")],
)
def test_unrelated_questions_are_escalated(seed: KnowledgeIndex, question: str, locale: str) -> None:
    found = seed.find(question, locale)
    assert found is not None
    assert found.decision.band is Band.ESCALATE
    assert found.entry is None
    assert found.entries == ()


def test_middle_scores_suggest_and_explain_why(seed: KnowledgeIndex) -> None:
    strict = seed.with_thresholds(Thresholds(answer=0.99, suggest=0.3))
    found = strict.find("退款多久能到账", "zh-CN")
    assert found is not None
    assert found.decision.band is Band.SUGGEST
    explanation = found.decision.explain()
    top = explanation["candidates"][0]
    assert top["entry_id"] == "refund_time"
    assert top["matched_question"] in found.entries[0].questions
    assert set(top["signals"]) == {"centroid", "nearest"}  # a few phrasings per entry: no linear model
    assert explanation["thresholds"] == {"answer": 0.99, "suggest": 0.3}


def test_an_exact_phrasing_is_answered_even_under_strict_thresholds(seed: KnowledgeIndex) -> None:
    strict = seed.with_thresholds(Thresholds(answer=5.0, suggest=4.0))
    found = strict.find("怎么开发票！", "zh-CN")
    assert found is not None
    assert found.decision.band is Band.ANSWER
    assert found.entry is not None
    assert found.entry.id == "invoice"


def test_linear_signal_joins_with_enough_phrasings_per_entry() -> None:
    phrasings = [Phrasing("a", f"apple {i} fruit") for i in range(25)] + [
        Phrasing("b", f"bus {i} ticket") for i in range(25)
    ]
    decision = Matcher(phrasings).match("a bus ticket please")
    assert decision.candidates[0].entry_id == "b"
    assert "linear" in decision.candidates[0].signals


def test_per_entry_thresholds_override_the_global_ones() -> None:
    entries = [
        parse_entry({"id": "a", "question": "退款多久到账", "answer": "1-3 天", "answer_threshold": 0.999}),
        parse_entry({"id": "b", "question": "怎么开发票", "answer": "在订单页"}),
    ]
    index = KnowledgeIndex(entries)
    found = index.find("退款大概多久能到账呢", "zh-CN")
    assert found is not None
    assert found.decision.band is Band.SUGGEST
    assert found.decision.explain()["overrides"]["answer"] == 0.999


def test_disabled_and_expired_entries_are_not_matched() -> None:
    entries = [
        parse_entry({"id": "off", "question": "退款多久到账", "answer": "x", "enabled": False}),
        parse_entry(
            {"id": "old", "question": "怎么开发票", "answer": "y", "valid_until": "2000-01-01T00:00:00"}
        ),
        parse_entry({"id": "on", "question": "密码忘了", "answer": "z"}),
    ]
    index = KnowledgeIndex(entries)
    assert set(index.entries) == {("zh-CN", "on")}


def test_an_empty_knowledge_base_is_refused() -> None:
    with pytest.raises(ValueError, match="no questions"):
        Matcher([])
