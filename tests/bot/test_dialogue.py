"""In-process action execution: same contract as an action server, without its costs."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction

import handoff
import knowledge_base
from bot.dialogue.agent import InProcessActionEndpoint
from core.keys import Keys
from core.state import ConversationStates
from knowledge_base.live import LiveKnowledgeBase


@pytest.fixture(scope="module")
def action() -> RemoteAction:
    return RemoteAction("action_answer_question", InProcessActionEndpoint())


def test_valid_action_response_passes(action: RemoteAction) -> None:
    response = {"events": [{"event": "slot", "name": "offered_human", "value": True}], "responses": []}
    assert action._validate_action_result(response)


@pytest.mark.parametrize(
    "response",
    [
        {"events": "not a list"},
        {"events": [{"name": "offered_human"}]},  # an event without its type
        {"responses": [42]},
    ],
)
def test_malformed_action_response_is_refused_as_rasa_does(
    action: RemoteAction, response: dict[str, object]
) -> None:
    with pytest.raises(ValidationError, match="Failed to validate Action server response"):
        action._validate_action_result(response)


def test_endpoint_asks_rasa_for_a_selective_domain() -> None:
    assert InProcessActionEndpoint().kwargs["enable_selective_domain"] is True


async def test_endpoint_runs_an_action_with_the_action_server_contract(
    redis_client: aioredis.Redis, key_prefix: str
) -> None:
    endpoint = InProcessActionEndpoint()
    # The router makes its engine's knowledge base and handoff service current; here the test does
    # (the knowledge base seeded from the file; the answer resets the misses count through the service).
    kb = LiveKnowledgeBase(redis_client, key_prefix + "ep")
    keys = Keys(key_prefix + "ep")
    service = handoff.HandoffService(redis_client, keys, ConversationStates(redis_client, keys))
    await kb.start()
    tracker = {
        "sender_id": "rest:x",
        "slots": {"language": "en"},
        "latest_message": {"text": "where is my order", "intent": {"name": "ask_question"}},
        "events": [],
        "paused": False,
        "followup_action": None,
        "active_loop": {},
        "latest_action_name": None,
    }
    body = {"next_action": "action_answer_question", "sender_id": "rest:x", "tracker": tracker, "domain": {}}
    try:
        with knowledge_base.using(kb), handoff.using(service):
            result = await endpoint.request(json=body)
    finally:
        await kb.stop()
    assert result["events"] == [{"event": "slot", "timestamp": None, "name": "offered_human", "value": False}]
    assert "My orders" in result["responses"][0]["text"]
