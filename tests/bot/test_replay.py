"""A message taken over from a worker that died mid-turn: replayed, but never answered or written twice."""

from __future__ import annotations

from dataclasses import replace

from aiohttp.test_utils import TestClient
from rasa.shared.core.events import UserUttered

from bot.appkeys import DIALOGUE, ROUTER
from core.messages import Inbound, Outbound
from core.ports import Reply
from handoff.web.appkeys import TRANSCRIPTS


def collect(found: list[Outbound]) -> Reply:
    async def reply(message: Outbound) -> None:
        found.append(message)

    return reply


async def said_by_customer(engine: TestClient, conversation: str) -> list[str]:
    return [x.text for x in await engine.app[TRANSCRIPTS].read(conversation) if x.role == "customer"]


async def test_a_turn_rasa_finished_is_answered_again_from_the_tracker_not_rerun(
    engine: TestClient, sender: str
) -> None:
    router = engine.app[ROUTER]
    first: list[Outbound] = []
    again: list[Outbound] = []
    inbound = Inbound("telegram", sender, "退款多久到账", message_id="u-1")
    await router.on_message(inbound, collect(first))
    assert first, "the bot answered"
    # The worker died after Rasa saved the turn but before its replies were queued: another replays it.
    await router.on_message(replace(inbound, replayed=True), collect(again))

    assert [m.text for m in again] == [m.text for m in first]
    assert await said_by_customer(engine, inbound.conversation_id) == ["退款多久到账"]
    dialogue = engine.app[DIALOGUE].dialogue
    assert dialogue is not None
    tracker = await dialogue.agent.tracker_store.retrieve(inbound.conversation_id)
    assert [e.text for e in tracker.events if isinstance(e, UserUttered)] == ["退款多久到账"]


async def test_a_replay_of_a_turn_that_never_started_runs_it(engine: TestClient, sender: str) -> None:
    answered: list[Outbound] = []
    # The worker died before it got to the message (waiting on the conversation's lock, say).
    inbound = Inbound("telegram", sender, "你好", message_id="u-2", replayed=True)
    await engine.app[ROUTER].on_message(inbound, collect(answered))
    assert answered
    assert await said_by_customer(engine, inbound.conversation_id) == ["你好"]
