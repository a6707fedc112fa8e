"""Hand the conversation over to a human agent."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

import handoff


class ActionRequestHuman(Action):
    """Move the conversation to the queue and tell the customer."""

    def name(self) -> str:
        """Return the action's name in the domain."""
        return "action_request_human"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """Queue the conversation; the reason is the intent that asked for it."""
        intent = str((tracker.latest_message.get("intent") or {}).get("name") or "request_human")
        text = str(tracker.latest_message.get("text") or "")
        transition = await handoff.request_human(tracker.sender_id, reason=intent, first_message=text)
        dispatcher.utter_message(
            response="utter_handoff_queued" if transition.changed else "utter_handoff_already"
        )
        place = await handoff.position(tracker.sender_id)
        if place is not None and place.position > 0:
            minutes = max(1, round(place.expected_wait_seconds / 60))
            if tracker.get_slot("language") == "en":
                line = f"You are number {place.position} in the queue; expected wait about {minutes} min."
            else:
                line = f"您当前排在第 {place.position} 位，预计等待约 {minutes} 分钟。"
            dispatcher.utter_message(text=line)
        return [SlotSet("offered_human", False)]


class ActionClearOffer(Action):
    """Forget that a human was offered, after the customer declined."""

    def name(self) -> str:
        """Return the action's name in the domain."""
        return "action_clear_offer"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """Reset the ``offered_human`` slot."""
        return [SlotSet("offered_human", False)]
