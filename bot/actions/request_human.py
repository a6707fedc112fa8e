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
        transition = await handoff.request_human(tracker.sender_id, reason=intent)
        dispatcher.utter_message(
            response="utter_handoff_queued" if transition.changed else "utter_handoff_already"
        )
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
