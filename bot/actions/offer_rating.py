"""Ask a customer who says goodbye to the bot to rate it (bot-only conversations are rated too)."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

import handoff
from bot.actions.runtime import EngineAction


class ActionOfferRating(EngineAction):
    """Offer the five satisfaction levels as buttons; the rating is recorded for agent ``bot``."""

    def name(self) -> str:
        """Return the action's name in the domain."""
        return "action_offer_rating"

    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """Send the rating prompt when the engine keeps ratings."""
        language = "en" if tracker.get_slot("language") == "en" else "zh"
        prompt = await handoff.offer_rating(tracker.sender_id, language)
        if prompt is not None:
            text, buttons = prompt
            dispatcher.utter_message(text=text, buttons=[{"title": t, "payload": p} for t, p in buttons])
        return []
