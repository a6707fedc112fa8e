"""Answer a customer's question from the knowledge base."""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

import knowledge_base

log = logging.getLogger(__name__)


class ActionAnswerQuestion(Action):
    """Reply with the best FAQ answer, or admit not knowing and offer a human."""

    def name(self) -> str:
        """Return the action's name in the domain."""
        return "action_answer_question"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """Answer the latest message in the conversation's language."""
        text = str(tracker.latest_message.get("text") or "")
        language = str(tracker.get_slot("language") or "zh")
        found = knowledge_base.answer(text, language)
        if found is None:
            log.info("kb: no answer", extra={"conversation": tracker.sender_id, "chars": len(text)})
            dispatcher.utter_message(response="utter_no_answer")
            return [SlotSet("offered_human", True)]
        log.info(
            "kb: answered",
            extra={
                "conversation": tracker.sender_id,
                "entry": found.entry_id,
                "score": round(found.score, 3),
            },
        )
        dispatcher.utter_message(text=found.text)
        return [SlotSet("offered_human", False)]
