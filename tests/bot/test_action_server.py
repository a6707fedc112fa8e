"""The standard deployment: `rasa run actions --actions bot.actions` builds the engine's own services.

The action server runs as a real process on this run's Redis; the test speaks to it the way Rasa does
(POST /webhook with the tracker), so business hours, offline messages (留言), the queue and ratings
must all work there exactly as in the engine's in-process actions.
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest_asyncio
import redis.asyncio as aioredis

from core.keys import Keys
from core.state import ConversationStates, Owner
from handoff import notices
from handoff.csat import Csat
from handoff.hours import Hours
from handoff.offline import OfflineMessages
from handoff.queue import HandoffQueue
from tests.bot.test_left_messages import CLOSED_ALL_WEEK
from tests.processes import free_port, serving

START_SECONDS = 120


@pytest_asyncio.fixture
async def action_server(redis_url: str, key_prefix: str, tmp_path: Path) -> AsyncIterator[tuple[str, str]]:
    """A standalone action server process with a key prefix of this test's own."""
    prefix = key_prefix + "act" + uuid.uuid4().hex[:4]
    port = free_port()
    env = {**os.environ, "REDIS_URL": redis_url, "REDIS_PREFIX": prefix, "LOG_LEVEL": "WARNING"}
    command = [str(Path(sys.executable).parent / "rasa"), "run", "actions", "--actions", "bot.actions"]
    command += ["--port", str(port)]
    url = f"http://127.0.0.1:{port}"
    async with serving(command, env, url + "/health", tmp_path / "actions.log", START_SECONDS):
        yield url, prefix


async def run_action(
    url: str, action: str, sender: str, text: str, intent: str, scope: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Call an action as Rasa's RemoteAction does and return the server's answer."""
    latest: dict[str, Any] = {"text": text, "intent": {"name": intent, "confidence": 1.0}, "entities": []}
    if scope is not None:
        latest["scope"] = scope
    tracker = {
        "sender_id": sender,
        "slots": {"language": "zh", "offered_human": False},
        "latest_message": latest,
        "events": [],
        "paused": False,
        "followup_action": None,
        "active_loop": {},
        "latest_action_name": "action_listen",
    }
    body = {"next_action": action, "sender_id": sender, "tracker": tracker, "domain": {}, "version": "3.6.21"}
    async with aiohttp.ClientSession() as http, http.post(url + "/webhook", json=body) as response:
        assert response.status == 200, await response.text()
        answer: dict[str, Any] = await response.json()
        return answer


async def test_a_standalone_action_server_has_hours_offline_messages_queue_and_ratings(
    action_server: tuple[str, str], redis_client: aioredis.Redis
) -> None:
    url, prefix = action_server
    hours = Hours(redis_client, prefix)
    states = ConversationStates(redis_client, Keys(prefix))
    queue = HandoffQueue(redis_client, prefix, states)

    # Out of hours: no queue, the customer's next message is taken as an offline message (留言).
    await hours.set("support", CLOSED_ALL_WEEK)
    night = f"rest:{uuid.uuid4().hex[:8]}"
    answer = await run_action(url, "action_request_human", night, "转人工", "request_human")
    assert [r["text"] for r in answer["responses"]] == [notices.closed(None, "zh")]
    assert await OfflineMessages(redis_client, prefix).leaving(night) == ("support", "zh")
    assert await states.get(night) is Owner.BOT

    # In hours: queued for the team, with a ticket the agents' console sees.
    await hours.clear("support")
    day = f"rest:{uuid.uuid4().hex[:8]}"
    answer = await run_action(url, "action_request_human", day, "转人工", "request_human")
    assert answer["responses"][0]["response"] == "utter_handoff_queued"
    assert await states.get(day) is Owner.QUEUED
    ticket = await queue.ticket(day)
    assert ticket is not None
    assert ticket.team == "support"

    # A complaint in other words (the scope decision's offers_human rule): offered, not queued; the
    # second in a row hands over, as two misses of the KB do.
    upset = f"rest:{uuid.uuid4().hex[:8]}"
    offer = {"rule": "offers_human", "nlu_intent": "complain", "nlu_confidence": 0.93, "kb_band": "escalate"}
    answer = await run_action(url, "action_answer_question", upset, "唉，真是受够了", "ask_question", offer)
    (offered,) = answer["responses"]
    assert offered["text"] == "很抱歉给您带来不便。需要为您转接人工客服吗？"
    assert [b["payload"] for b in offered["buttons"]] == ["/request_human", "/deny"]
    assert await states.get(upset) is Owner.BOT
    answer = await run_action(url, "action_answer_question", upset, "受够了受够了", "ask_question", offer)
    assert await states.get(upset) is Owner.QUEUED, answer

    # A bot-only conversation is rated too: the five levels as buttons, the prompt remembered.
    rated = f"rest:{uuid.uuid4().hex[:8]}"
    answer = await run_action(url, "action_offer_rating", rated, "再见", "goodbye")
    (prompt,) = answer["responses"]
    assert [b["title"] for b in prompt["buttons"]] == ["非常满意", "满意", "一般", "不满意", "非常不满意"]
    assert await Csat(redis_client, prefix).pending(rated) is not None
