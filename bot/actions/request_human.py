"""Hand the conversation over to a human agent."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

import handoff
from bot.actions.runtime import EngineAction
from handoff import notices


class ActionRequestHuman(EngineAction):
    """Move the conversation to the queue and tell the customer."""

    def name(self) -> str:
        """Return the action's name in the domain."""
        return "action_request_human"

    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """Queue the conversation; the reason is the intent that asked for it. A complaint becomes a case."""
        intent = str((tracker.latest_message.get("intent") or {}).get("name") or "request_human")
        if intent == "complain":
            language = tracker.get_slot("language")
            text = str(tracker.latest_message.get("text") or "")
            case = await handoff.open_complaint(tracker.sender_id, text, "en" if language == "en" else "zh")
            if case is not None:
                dispatcher.utter_message(text=notices.complaint_opened(case, language))
        return await hand_over(dispatcher, tracker, reason=intent)


async def hand_over(dispatcher: CollectingDispatcher, tracker: Tracker, reason: str) -> list[dict[str, Any]]:
    """Queue the conversation for a human and tell the customer their place and expected wait."""
    text = str(tracker.latest_message.get("text") or "")
    language = tracker.get_slot("language")
    closed = await handoff.outside_hours()
    if closed is not None:
        # Nobody to queue for: the customer's next message is kept for the agents (留言).
        await handoff.start_offline_message(tracker.sender_id, "en" if language == "en" else "zh")
        dispatcher.utter_message(text=notices.closed(closed.next_open, language))
        return [SlotSet("offered_human", False)]
    transition = await handoff.request_human(tracker.sender_id, reason=reason, first_message=text)
    dispatcher.utter_message(
        response="utter_handoff_queued" if transition.changed else "utter_handoff_already"
    )
    place = await handoff.position(tracker.sender_id)
    line = notices.position_line(place, language)
    if line is not None and handoff.long_wait(place):
        title, payload = notices.leave_button(language)
        dispatcher.utter_message(
            text=f"{line}\n{notices.long_wait(language)}", buttons=[{"title": title, "payload": payload}]
        )
    elif line is not None:
        dispatcher.utter_message(text=line)
    return [SlotSet("offered_human", False)]


class ActionClearOffer(EngineAction):
    """Forget that a human was offered, after the customer declined."""

    def name(self) -> str:
        """Return the action's name in the domain."""
        return "action_clear_offer"

    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """Reset the ``offered_human`` slot and the miss count (they chose to carry on with the bot)."""
        await handoff.kb_outcome(tracker.sender_id, escalated=False)
        return [SlotSet("offered_human", False)]
