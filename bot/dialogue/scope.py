"""What a customer message is: a dialogue act, or a question whose scope the knowledge base decides.

The intent model is trained once per release; the knowledge base changes every day without retraining,
so the model cannot know what the KB covers. Rasa's NLU therefore only names the dialogue acts
(greeting, goodbye, thanks, yes/no, "are you a bot", asking for a human, complaining), and every other
message is a question for the live KB, whose bands (answer / suggest / escalate) decide. The rules, in
order (the first that applies wins):

1. a button payload (``/request_human``) is what the customer chose: kept;
2. yes or no while the bot's offer of a human is pending answers that offer: kept;
3. an explicit request for a human or a complaint, kept even when the KB has an entry about it
   ("人工客服" must not be answered with the service hours): either the text holds a transfer command
   (转人工, 人工客服, 找人工, "talk to a human": `TRANSFER`; the greeting tells customers to type
   "转人工", so it must work whatever the model's confidence) that no negation precedes ("不用转人工")
   and the model does not read as a "no"; or the model is sure (confidence >= 0.8) *and* the text
   names what it asks for (人工, 真人, 客服, 投诉, human, agent, complaint: `HUMAN_CUES`);
4. a question the KB answers (band ``answer``) is answered, whatever the intent model guessed;
5. a request for a human or a complaint in other words ("你们太差了"), with the same confidence, when
   the KB has nothing plausible for it (band ``escalate``): the bot *offers* a human (rule
   ``offers_human``: an apology and the 转人工 / 不用了 buttons) rather than queueing. The model reads
   ordinary questions this way too ("什么叫小可爱" is request_human at 0.98, "what's the average gpa
   to get into yale" at 0.94): 1.2 % of bq_faq's dev questions were queued for an agent. When the KB
   suggests entries, the customer gets them *with* the "都不是，转人工" button. Either way a human is
   one tap away, and a second such message in a row hands over (the KB's misses-in-a-row rule);
6. a social act (greeting, goodbye, thanks, yes/no, bot challenge), with confidence, when the KB has
   nothing plausible for it: kept. A question with a "谢谢" at its end, or one that merely looks like
   "你叫什么名字", is still a question when the KB suggests entries for it;
7. everything else, ``out_of_scope`` and the NLU's own fallback included, is ``ask_question``: the KB
   suggests or escalates, so "out of scope" is what the KB escalates, not what the model guessed.

Every decision carries its explanation (rule, intent and confidence before, KB band and confidence),
which goes into the parse data (so the tracker and the agents' history keep it) and the log.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from knowledge_base import Band, Found

ASK = "ask_question"
# The rule under which the bot offers a human instead of queueing; the answering action reads it from
# the parse data's ``scope`` (as it reads ``nlu_unsure``) and words the offer.
OFFERS_HUMAN = "offers_human"
HUMAN_ACTS = frozenset({"request_human", "complain"})
SOCIAL_ACTS = frozenset({"greet", "goodbye", "thanks", "affirm", "deny", "bot_challenge"})
ANSWERS_TO_OFFER = frozenset({"affirm", "deny"})
# Words that name a human or a complaint: with them, a sure request_human/complain is explicit.
HUMAN_CUES = re.compile(
    r"人工|真人|客服|转接|坐席|投诉|差评|举报|\b(human|agent|person|representative|operator|complain\w*)\b",
    re.IGNORECASE,
)
# A transfer command: the customer tells the bot to hand over, in so many words.
TRANSFER = re.compile(
    r"转人工|转接人工|人工客服|人工服务|人工坐席|真人客服|(?:找|要|接|换|叫|联系)个?(?:人工|真人|客服)"
    r"|^\W*(?:人工|真人)\W*$"
    r"|\b(?:talk|speak|chat|connect me|put me through|transfer me|get me)\b[^.?!]{0,20}?"
    r"\b(?:human|agent|person|representative|operator)\b"
    r"|\b(?:live|human) (?:agent|representative|operator)\b"
    r"|^\W*(?:human|agent|operator|representative)\W*$",
    re.IGNORECASE,
)
# A negation right before the command takes it back: "不用转人工了", "no need to talk to a human".
NEGATED = re.compile(
    r"(?:不用|不要|别|无需|不需要|没必要|不想|不必)[^，。,.!?！？]{0,3}$"
    r"|\b(?:no|not|don't|do not|never|no need)\b[^.?!,]{0,15}$",
    re.IGNORECASE,
)
# Rasa's FallbackClassifier replaces the intent with this when the model is unsure.
NLU_FALLBACK = "nlu_fallback"


@dataclass(frozen=True)
class ScopeRules:
    """Confidence the intent model needs for a dialogue act to win over the knowledge base."""

    # Handing over costs an agent's time and the customer's wait: only a clear request does it.
    human: float = 0.8
    social: float = 0.6
    offer_answer: float = 0.5


@dataclass(frozen=True)
class Scope:
    """The intent the dialogue runs with, and why."""

    intent: str
    rule: str
    nlu_intent: str | None
    nlu_confidence: float
    kb_band: str | None
    kb_confidence: float | None
    # The model itself was unsure (Rasa's FallbackClassifier fired): the content-staff inbox says so.
    nlu_unsure: bool = False

    def explain(self) -> dict[str, Any]:
        """Return the JSON-ready explanation kept in the parse data and the log."""
        return {
            "intent": self.intent,
            "rule": self.rule,
            "nlu_intent": self.nlu_intent,
            "nlu_confidence": round(self.nlu_confidence, 4),
            "kb_band": self.kb_band,
            "kb_confidence": self.kb_confidence,
            "nlu_unsure": self.nlu_unsure,
        }


def model_intent(parse: Mapping[str, Any]) -> tuple[str | None, float]:
    """Return the model's best real intent and its confidence, looking past ``nlu_fallback``."""
    intent = parse.get("intent") or {}
    name = intent.get("name")
    if name != NLU_FALLBACK:
        return name, float(intent.get("confidence") or 0.0)
    for ranked in parse.get("intent_ranking") or []:
        if ranked.get("name") != NLU_FALLBACK:
            return ranked.get("name"), float(ranked.get("confidence") or 0.0)
    return None, 0.0


def transfer_command(text: str) -> bool:
    """Tell whether the text commands a transfer to a human that no negation right before takes back."""
    return any(not NEGATED.search(text[: hit.start()]) for hit in TRANSFER.finditer(text))


def decide(
    parse: Mapping[str, Any],
    found: Found | None,
    *,
    offer_pending: bool,
    rules: ScopeRules | None = None,
) -> Scope:
    """Decide the intent for one message from Rasa's parse and the KB's match of the same text."""
    rules = rules or ScopeRules()
    name, confidence = model_intent(parse)
    act = name or ""
    text = str(parse.get("text") or "")
    band = found.decision.band if found is not None else None
    kb_confidence = found.decision.confidence if found is not None else None
    shown = round(kb_confidence, 4) if kb_confidence is not None and math.isfinite(kb_confidence) else None
    unsure = (parse.get("intent") or {}).get("name") == NLU_FALLBACK

    def scope(intent: str, rule: str) -> Scope:
        return Scope(intent, rule, name, confidence, band.value if band else None, shown, unsure)

    if text.startswith("/") and act:
        return scope(act, "button")
    if offer_pending and act in ANSWERS_TO_OFFER and confidence >= rules.offer_answer:
        return scope(act, "answers_offer")
    sure_human = act in HUMAN_ACTS and confidence >= rules.human
    if sure_human and HUMAN_CUES.search(text):
        return scope(act, "asks_for_human")
    if transfer_command(text) and not (act == "deny" and confidence >= rules.social):
        return scope(act if act in HUMAN_ACTS else "request_human", "asks_for_human")
    if band is Band.ANSWER:
        return scope(ASK, "kb_answers")
    nothing_plausible = band in (None, Band.ESCALATE)
    if sure_human and nothing_plausible:
        return scope(ASK, OFFERS_HUMAN)
    if act in SOCIAL_ACTS and confidence >= rules.social and nothing_plausible:
        return scope(act, "social_act")
    return scope(ASK, "kb_decides")


def apply(parse: dict[str, Any], decided: Scope) -> dict[str, Any]:
    """Return the parse data with the decided intent and the explanation under ``scope``."""
    out = dict(parse)
    if decided.intent != (parse.get("intent") or {}).get("name"):
        out["intent"] = {"name": decided.intent, "confidence": 1.0}
    out["scope"] = decided.explain()
    return out
