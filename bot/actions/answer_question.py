"""Answer a customer's question from the knowledge base, in one of three bands."""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

import handoff
import knowledge_base
from bot.actions.request_human import hand_over
from bot.actions.runtime import EngineAction
from handoff import notices

log = logging.getLogger(__name__)

MAX_SUGGESTIONS = 3
_SUGGEST_TEXT = {"zh": "您是不是想问：", "en": "Did you mean:"}
_HUMAN_BUTTON = {"zh": "都不是，转人工", "en": "None of these, talk to a human"}
# A request for a human or a complaint the text does not name: offered, one tap from a human. The
# scope decision names it in the parse data (bot.dialogue.scope.OFFERS_HUMAN, a layer this one
# cannot import).
OFFERS_HUMAN = "offers_human"
_OFFER_TEXT = {
    "zh": "很抱歉给您带来不便。需要为您转接人工客服吗？",
    "en": "I'm sorry about that. Would you like me to get you a human agent?",
}
_OFFER_BUTTONS = {"zh": ("转人工", "不用了"), "en": ("Talk to a human", "No, thanks")}


class ActionAnswerQuestion(EngineAction):
    """Answer (high confidence), suggest likely questions as buttons, or admit not knowing."""

    def name(self) -> str:
        """Return the action's name in the domain."""
        return "action_answer_question"

    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """Match the latest message once and reply according to the band."""
        text = str(tracker.latest_message.get("text") or "")
        language = str(tracker.get_slot("language") or "zh")
        lang = "en" if language == "en" else "zh"
        found = await knowledge_base.find(text, language)
        band = found.decision.band if found else knowledge_base.Band.ESCALATE
        message_id = str(tracker.latest_message.get("message_id") or "")
        await knowledge_base.note_band(band, tracker.sender_id, message_id, found)
        # The decision's explanation, minus the customer's text: INFO logs never carry message text.
        explanation: dict[str, Any] = found.decision.explain() if found else {"band": band.value}
        explanation.pop("normalised", None)
        explanation["candidates"] = explanation.get("candidates", [])[:3]
        log.info("kb: decision", extra={"conversation": tracker.sender_id, "kb": explanation})
        if found is not None and band is knowledge_base.Band.ANSWER and found.entries:
            entry = found.entries[0]
            dispatcher.utter_message(
                text=entry.answer_for(tracker.get_latest_input_channel() or ""),
                buttons=[{"title": b.title, "payload": b.payload} for b in entry.buttons],
                image=entry.image_url or None,
            )
            await handoff.kb_outcome(tracker.sender_id, escalated=False)
            return [SlotSet("offered_human", False)]
        if found is not None and band is knowledge_base.Band.SUGGEST and found.entries:
            threshold = found.decision.thresholds.suggest
            choices = [
                e
                for e, c in zip(found.entries, found.decision.candidates, strict=False)
                if c.score >= threshold or c is found.decision.candidates[0]
            ][:MAX_SUGGESTIONS]
            buttons = [{"title": e.question, "payload": e.question} for e in choices]
            buttons.append({"title": _HUMAN_BUTTON[lang], "payload": "/request_human"})
            dispatcher.utter_message(text=_SUGGEST_TEXT[lang], buttons=buttons)
            return [SlotSet("offered_human", True)]
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        decided = tracker.latest_message.get("scope") or {}
        offer = decided.get("rule") == OFFERS_HUMAN
        source = "fallback" if intent == "nlu_fallback" or decided.get("nlu_unsure") else "escalated"
        if not offer:  # a complaint in other words is no gap in the KB's content
            await knowledge_base.record_unanswered(found, text, language, source)
        if await handoff.kb_outcome(tracker.sender_id, escalated=True):
            # The second miss in a row: asking again whether they want a human would only annoy them.
            dispatcher.utter_message(text=notices.kb_gave_up(lang))
            return await hand_over(dispatcher, tracker, reason="kb_misses_in_a_row")
        if offer:
            yes, no = _OFFER_BUTTONS[lang]
            buttons = [{"title": yes, "payload": "/request_human"}, {"title": no, "payload": "/deny"}]
            dispatcher.utter_message(text=_OFFER_TEXT[lang], buttons=buttons)
        else:
            dispatcher.utter_message(response="utter_no_answer")
        return [SlotSet("offered_human", True)]
