"""The scope decision: dialogue acts from the intent model, everything else decided by the live KB."""

from __future__ import annotations

from typing import Any

import pytest

from bot.dialogue import scope
from knowledge_base import Band, Found
from knowledge_base.formats import load_bytes
from knowledge_base.index import KnowledgeIndex
from knowledge_base.live import SEED_FILE


@pytest.fixture(scope="module")
def seed() -> KnowledgeIndex:
    return KnowledgeIndex(load_bytes(SEED_FILE.read_bytes(), "yaml"))


def parse(text: str, intent: str, confidence: float, *ranking: tuple[str, float]) -> dict[str, Any]:
    return {
        "text": text,
        "intent": {"name": intent, "confidence": confidence},
        "intent_ranking": [{"name": n, "confidence": c} for n, c in ranking],
        "entities": [],
    }


def found(seed: KnowledgeIndex, text: str, locale: str = "zh-CN") -> Found:
    result = seed.find(text, locale)
    assert result is not None
    return result


def test_a_question_the_kb_answers_is_answered_whatever_the_model_guessed(seed: KnowledgeIndex) -> None:
    match = found(seed, "退款多久能到账？")
    assert match.decision.band is Band.ANSWER
    for intent in ("out_of_scope", "request_human", "bot_challenge", "greet"):
        decided = scope.decide(parse("退款多久能到账？", intent, 0.97), match, offer_pending=False)
        assert (decided.intent, decided.rule) == ("ask_question", "kb_answers"), intent


def test_out_of_scope_is_what_the_kb_escalates_not_what_the_model_guessed(seed: KnowledgeIndex) -> None:
    text = "蚂蚁的牙齿是什么颜色的？"
    match = found(seed, text)
    assert match.decision.band is not Band.ANSWER
    decided = scope.decide(parse(text, "out_of_scope", 0.99), match, offer_pending=False)
    assert decided.intent == "ask_question"
    assert decided.rule == "kb_decides"
    assert decided.kb_band == match.decision.band.value


def test_a_clear_request_for_a_human_is_kept_and_an_unsure_one_goes_to_the_kb(seed: KnowledgeIndex) -> None:
    for text in ("转人工", "人工客服", "talk to a human"):
        match = found(seed, text)
        sure = scope.decide(parse(text, "request_human", 0.95), match, offer_pending=False)
        assert (sure.intent, sure.rule) == ("request_human", "asks_for_human"), match.decision.explain()
    # The seed KB answers "人工客服" with its service-hours entry: an explicit request still wins.
    assert found(seed, "人工客服").decision.band is Band.ANSWER
    text = "谁可以帮我找一个练习拼音打字的软件呢？"
    unsure = scope.decide(parse(text, "request_human", 0.62), found(seed, text), offer_pending=False)
    assert unsure.intent == "ask_question"
    complaint = scope.decide(parse("你们的快递太差了", "complain", 0.7), None, offer_pending=False)
    assert complaint.intent == "ask_question", "a complaint needs high confidence too"


def test_a_transfer_command_hands_over_whatever_the_model_made_of_it(seed: KnowledgeIndex) -> None:
    # The greeting tells customers to type "转人工": it must work even when the model reads the
    # message as a question the KB answers, or is unsure.
    for text, intent, confidence in (
        ("我要开发票，转人工", "ask_question", 0.7),
        ("转人工", "nlu_fallback", 0.3),
        ("人工", "greet", 0.5),
        ("please let me talk to a real person", "ask_question", 0.9),
    ):
        decided = scope.decide(parse(text, intent, confidence), found(seed, text), offer_pending=False)
        assert (decided.intent, decided.rule) == ("request_human", "asks_for_human"), text
    complaint = scope.decide(parse("我要投诉，转人工", "complain", 0.6), None, offer_pending=False)
    assert complaint.intent == "complain", "the model's reading of which human act it is stays"
    for text in (
        "不用转人工了",
        "别转人工，我自己看看",
        "no need to talk to a human",
        "人工智能是什么",
        "are you a real person",
    ):
        decided = scope.decide(parse(text, "ask_question", 0.6), None, offer_pending=False)
        assert decided.intent != "request_human", text
    taken_back = scope.decide(parse("转人工就算了", "deny", 0.95), None, offer_pending=False)
    assert taken_back.intent == "deny"


def test_a_request_for_a_human_that_the_kb_suggests_entries_for_gets_the_suggestions(
    seed: KnowledgeIndex,
) -> None:
    text = "帮我找一下发票怎么开"
    match = found(seed, text)
    assert match.decision.band is Band.SUGGEST, match.decision.explain()
    decided = scope.decide(parse(text, "request_human", 0.99), match, offer_pending=False)
    assert (decided.intent, decided.rule) == ("ask_question", "kb_decides")


def test_a_request_for_a_human_in_other_words_that_the_kb_escalates_is_offered_a_human(
    seed: KnowledgeIndex,
) -> None:
    # "什么叫小可爱" is request_human at 0.98 on the trained model: queueing it would cost an agent.
    for text, intent in (("唉，真是受够了", "complain"), ("什么叫小可爱", "request_human")):
        match = found(seed, text)
        assert match.decision.band is Band.ESCALATE, match.decision.explain()
        decided = scope.decide(parse(text, intent, 0.95), match, offer_pending=False)
        assert (decided.intent, decided.rule) == ("ask_question", scope.OFFERS_HUMAN), text


def test_social_acts_need_confidence() -> None:
    assert scope.decide(parse("你好", "greet", 0.9), None, offer_pending=False).intent == "greet"
    assert scope.decide(parse("你好吗朋友", "greet", 0.4), None, offer_pending=False).intent == "ask_question"


def test_a_social_act_yields_to_a_question_the_kb_suggests_entries_for(seed: KnowledgeIndex) -> None:
    thanks = found(seed, "谢谢")
    assert thanks.decision.band is Band.ESCALATE
    assert scope.decide(parse("谢谢", "thanks", 0.99), thanks, offer_pending=False).intent == "thanks"
    text = "发票怎么开，谢谢"
    question = found(seed, text)
    assert question.decision.band is not Band.ESCALATE, question.decision.explain()
    decided = scope.decide(parse(text, "thanks", 0.99), question, offer_pending=False)
    assert decided.intent == "ask_question"


def test_the_model_fallback_looks_past_nlu_fallback_to_the_best_real_intent() -> None:
    unsure = parse("嗯嗯谢啦", "nlu_fallback", 0.45, ("nlu_fallback", 0.45), ("thanks", 0.44), ("greet", 0.3))
    decided = scope.decide(unsure, None, offer_pending=False)
    assert decided.nlu_intent == "thanks"
    assert decided.nlu_unsure
    assert decided.intent == "ask_question", "0.44 is below the social-act confidence"


def test_yes_or_no_to_a_pending_offer_answers_it_even_when_the_kb_would_answer(seed: KnowledgeIndex) -> None:
    match = found(seed, "退款多久能到账？")
    decided = scope.decide(parse("好的", "affirm", 0.7), match, offer_pending=True)
    assert (decided.intent, decided.rule) == ("affirm", "answers_offer")
    not_pending = scope.decide(parse("好的", "affirm", 0.7), match, offer_pending=False)
    assert not_pending.intent == "ask_question"


def test_a_button_payload_is_what_the_customer_chose() -> None:
    decided = scope.decide(parse("/request_human", "request_human", 1.0), None, offer_pending=False)
    assert (decided.intent, decided.rule) == ("request_human", "button")


def test_apply_keeps_the_explanation_in_the_parse_data(seed: KnowledgeIndex) -> None:
    text = "退款多久能到账？"
    raw = parse(text, "request_human", 0.9, ("request_human", 0.9))
    decided = scope.decide(raw, found(seed, text), offer_pending=False)
    applied = scope.apply(raw, decided)
    assert applied["intent"] == {"name": "ask_question", "confidence": 1.0}
    assert applied["scope"]["nlu_intent"] == "request_human"
    assert applied["scope"]["rule"] == "kb_answers"
    assert applied["scope"]["kb_band"] == "answer"
    assert raw["intent"]["name"] == "request_human", "the caller's parse is not changed"
