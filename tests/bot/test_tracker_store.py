"""The append-only tracker store: saves append new events only, reads take the latest session."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from rasa.core.tracker_store import RedisTrackerStore, TrackerStore
from rasa.shared.core.events import ActionExecuted, BotUttered, SessionStarted, SlotSet, UserUttered
from rasa.utils.endpoints import EndpointConfig

from bot.dialogue.tracker_store import RedisEventTrackerStore, TrackerConflict
from core.keys import Keys
from core.redis import AsyncRedis, async_client, close_async


@pytest_asyncio.fixture
async def client(shared_url: str) -> AsyncIterator[AsyncRedis]:
    """A client on each deployment in turn: the store must hold on one server, Sentinel and Cluster."""
    made = async_client(shared_url)
    yield made
    await close_async(made)


def conversation() -> str:
    return "rest:tt-" + uuid.uuid4().hex[:10]


def turn(text: str, answer: str) -> list[object]:
    return [UserUttered(text), ActionExecuted("utter_x"), BotUttered(answer), ActionExecuted("action_listen")]


async def test_a_save_appends_only_the_turns_new_events(client: AsyncRedis, key_prefix: str) -> None:
    store = RedisEventTrackerStore(None, client, key_prefix, ttl_seconds=3600)
    sender, keys = conversation(), Keys(key_prefix)
    tracker = await store.create_tracker(sender)  # action_listen, saved
    assert await client.llen(keys.dialogue_events(sender)) == 1
    for i in range(30):
        tracker = await store.retrieve(sender)
        assert tracker is not None
        tracker.update_with_events(turn(f"q{i}", f"a{i}"), None)
        await store.save(tracker)
        # Each save added the turn's four events, whatever the conversation's length.
        assert await client.llen(keys.dialogue_events(sender)) == 1 + 4 * (i + 1)
    await store.save(tracker)  # nothing new: nothing written
    assert await client.llen(keys.dialogue_events(sender)) == 121
    again = await store.retrieve(sender)
    assert again is not None
    assert [e.text for e in again.events if isinstance(e, UserUttered)] == [f"q{i}" for i in range(30)]
    assert 3500 < await client.ttl(keys.dialogue_events(sender)) <= 3600


async def test_a_read_takes_the_latest_session_and_a_full_read_every_one(
    client: AsyncRedis, key_prefix: str
) -> None:
    store = RedisEventTrackerStore(None, client, key_prefix)
    sender = conversation()
    tracker = await store.create_tracker(sender)
    tracker.update_with_events([SlotSet("language", "zh"), *turn("你好", "您好")], None)
    await store.save(tracker)
    # A new session, as Rasa starts one after the session expiry: only it is read back.
    tracker.update_with_events(
        [ActionExecuted("action_session_start"), SessionStarted(), *turn("hi", "hello")], None
    )
    await store.save(tracker)
    latest = await store.retrieve(sender)
    assert latest is not None
    assert [e.text for e in latest.events if isinstance(e, UserUttered)] == ["hi"]
    full = await store.retrieve_full_tracker(sender)
    assert full is not None
    assert [e.text for e in full.events if isinstance(e, UserUttered)] == ["你好", "hi"]
    assert sender in await store.keys()


async def test_two_writers_from_the_same_read_cannot_both_append(client: AsyncRedis, key_prefix: str) -> None:
    store = RedisEventTrackerStore(None, client, key_prefix)
    other = RedisEventTrackerStore(None, client, key_prefix)  # a second instance
    sender = conversation()
    await store.create_tracker(sender)
    first, second = await store.retrieve(sender), await other.retrieve(sender)
    assert first is not None
    assert second is not None
    first.update_with_events(turn("one", "1"), None)
    second.update_with_events(turn("two", "2"), None)
    await store.save(first)
    # Rasa's own store would merge the two turns' events into one muddled history; this refuses.
    with pytest.raises(TrackerConflict):
        await other.save(second)
    stored = await store.retrieve(sender)
    assert stored is not None
    assert [e.text for e in stored.events if isinstance(e, UserUttered)] == ["one"]


async def test_a_tracker_rasas_own_store_wrote_is_moved_on_first_read(
    client: AsyncRedis, redis_url: str, key_prefix: str
) -> None:
    sender, keys = conversation(), Keys(key_prefix)
    old = RedisTrackerStore(None, key_prefix=key_prefix)
    tracker = old.init_tracker(sender)
    tracker.update_with_events([ActionExecuted("action_listen"), *turn("退款多久到账", "3-5 个工作日")], None)
    await client.set(keys.legacy_tracker(sender), old.serialise_tracker(tracker))
    store = RedisEventTrackerStore(None, client, key_prefix)
    moved = await store.retrieve(sender)
    assert moved is not None
    assert [e.text for e in moved.events if isinstance(e, UserUttered)] == ["退款多久到账"]
    assert await client.exists(keys.legacy_tracker(sender)) == 0
    assert await client.llen(keys.dialogue_events(sender)) == len(moved.events)
    moved.update_with_events(turn("谢谢", "不客气"), None)
    await store.save(moved)  # and it carries on appending
    assert await client.llen(keys.dialogue_events(sender)) == len(moved.events)


async def test_a_rasa_deployment_can_name_it_in_endpoints_yml(redis_url: str, key_prefix: str) -> None:
    config = EndpointConfig(
        url=redis_url, type="bot.dialogue.tracker_store.RedisEventTrackerStore", key_prefix=key_prefix + "ts"
    )
    store = TrackerStore.create(config)
    assert isinstance(store, RedisEventTrackerStore)
    try:
        sender = conversation()
        await store.create_tracker(sender)
        assert await store.exists(sender)
        assert await store.redis.exists(Keys(key_prefix + "ts").dialogue_events(sender)) == 1
    finally:
        await close_async(store.redis)


async def test_the_tracker_kept_in_memory_is_used_only_while_it_is_current(
    client: AsyncRedis, key_prefix: str
) -> None:
    here = RedisEventTrackerStore(None, client, key_prefix)
    elsewhere = RedisEventTrackerStore(None, client, key_prefix)  # another instance
    sender = conversation()
    await here.create_tracker(sender)
    first = await here.retrieve(sender)
    assert first is not None
    first.update_with_events(turn("one", "1"), None)
    await here.save(first)
    # Nothing changed since: the same object, not rebuilt from its events.
    assert await here.retrieve(sender) is first
    # Another instance appended: rebuilt, with its turn.
    other = await elsewhere.retrieve(sender)
    assert other is not None
    other.update_with_events(turn("two", "2"), None)
    await elsewhere.save(other)
    second = await here.retrieve(sender)
    assert second is not None
    assert second is not first
    assert [e.text for e in second.events if isinstance(e, UserUttered)] == ["one", "two"]
    # A turn that failed after changing the tracker in memory, before saving: not reused.
    second.update_with_events([UserUttered("lost")], None)
    third = await here.retrieve(sender)
    assert third is not None
    assert third is not second
    assert [e.text for e in third.events if isinstance(e, UserUttered)] == ["one", "two"]
    # A new session: the next read holds only it, as a read from Redis would.
    third.update_with_events(
        [ActionExecuted("action_session_start"), SessionStarted(), *turn("hi", "hello")], None
    )
    await here.save(third)
    latest = await here.retrieve(sender)
    assert latest is not None
    assert [e.text for e in latest.events if isinstance(e, UserUttered)] == ["hi"]
