"""Rasa's tracker in Redis as an append-only list of events, on asyncio Redis.

Rasa 3.6's RedisTrackerStore keeps a conversation as one JSON document: every save reads it, parses it,
merges it with the turn's tracker and writes the whole of it back, with a blocking client on the event
loop (measured at ~23 % of the engine's CPU under load, growing with the conversation). Here each
conversation is a Redis list of event JSON, in the conversation's slot, plus the list position where its
latest session starts. A save appends only the turn's new events, in one script that also checks that
nobody appended meanwhile (the conversation's ticket lock makes that the rule; a break of it fails the
turn, which the intake retries, instead of interleaving two turns). A retrieve reads the latest session
in one script call. Trackers written by Rasa's own store (``{prefix}:tracker:{id}``) are moved over on
first read. The latest-session tracker is kept in process memory too (the last `CACHED_TRACKERS`
conversations): a read that finds the list as long as this process last saw it, and the tracker unchanged
in memory since, returns it instead of rebuilding it from its events.

The class is a Rasa ``TrackerStore``: a plain Rasa deployment can name it in ``endpoints.yml``
(``tracker_store: {type: bot.dialogue.tracker_store.RedisEventTrackerStore, url: "redis://…",
key_prefix: …, record_exp: …}``).
"""

from __future__ import annotations

import json
import logging
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import SerializedTrackerAsText, TrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import SessionStarted
from rasa.shared.core.trackers import DialogueStateTracker

from core.keys import Keys
from core.redis import AsyncRedis, async_client

log = logging.getLogger(__name__)

# What a tracker read from (or saved to) this store knows: the list's length then, and how many of the
# tracker's own events were stored. Kept on the tracker object: Rasa hands the same object back to save.
_STORED = "_cs_stored"

# KEYS: events, session start. ARGV: '1' for every session, '0' for the latest; the length the caller
# holds in memory ('-1': none). Returns false when the conversation has no list, {length} when the caller's
# copy is current, else {length, events…}.
_READ_LUA = """
local length = redis.call('LLEN', KEYS[1])
if length == 0 then return false end
if tonumber(ARGV[2]) == length then return {length} end
local from = 0
if ARGV[1] == '0' then from = tonumber(redis.call('GET', KEYS[2]) or '0') end
local events = redis.call('LRANGE', KEYS[1], from, -1)
table.insert(events, 1, length)
return events
"""
# Latest-session trackers kept in this process, most recently used last: rebuilding one from its events
# costs ~28 µs per event (a 100-turn conversation, 14 ms), paid on every turn without it.
CACHED_TRACKERS = 2000

# KEYS: events, session start. ARGV: ttl (s; 0 none), expected length (-1: replace the list), then per event
# '1' when it starts a session, else '0', and its JSON. Returns the new length, or -1 when the list was
# not of the expected length (another writer appended).
_APPEND_LUA = """
local length = redis.call('LLEN', KEYS[1])
local expected = tonumber(ARGV[2])
if expected < 0 then
  redis.call('DEL', KEYS[1], KEYS[2])
  length = 0
elseif length ~= expected then
  return -1
end
for i = 3, #ARGV, 2 do
  if ARGV[i] == '1' then redis.call('SET', KEYS[2], length) end
  redis.call('RPUSH', KEYS[1], ARGV[i + 1])
  length = length + 1
end
local ttl = tonumber(ARGV[1])
if ttl > 0 then
  redis.call('EXPIRE', KEYS[1], ttl)
  if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('EXPIRE', KEYS[2], ttl) end
end
return length
"""


class TrackerConflict(RuntimeError):
    """Another writer appended to the conversation since this tracker was read: the turn must be retried."""


class RedisEventTrackerStore(TrackerStore, SerializedTrackerAsText):
    """Conversations as append-only event lists in Redis; saves append, reads take the latest session."""

    def __init__(
        self,
        domain: Domain | None = None,
        client: AsyncRedis | None = None,
        prefix: str = "rasa",
        ttl_seconds: int | None = None,
        *,
        host: str | None = None,
        key_prefix: str | None = None,
        record_exp: float | None = None,
        event_broker: EventBroker | None = None,
        **kwargs: Any,
    ) -> None:
        """Use ``client`` under ``prefix``, or (from a Rasa endpoint config) ``host`` as a Redis URL."""
        if client is None:
            if not host:
                raise ValueError("RedisEventTrackerStore needs a client or a url")
            client = async_client(host if "://" in host else f"redis://{host}")
        super().__init__(domain, event_broker, **kwargs)
        self.redis = client  # the scripts run on whatever client this is now
        self._keys = Keys(key_prefix or prefix)
        self.ttl_seconds = int(ttl_seconds or record_exp or 0)
        self._read = client.register_script(_READ_LUA)
        self._append = client.register_script(_APPEND_LUA)
        self._cache: OrderedDict[str, DialogueStateTracker] = OrderedDict()

    async def retrieve(self, sender_id: str) -> DialogueStateTracker | None:
        """Return the tracker of the conversation's latest session, or None for a new conversation."""
        return await self._retrieve(sender_id, every_session=False)

    async def retrieve_full_tracker(self, conversation_id: str) -> DialogueStateTracker | None:
        """Return the tracker with every session of the conversation."""
        return await self._retrieve(conversation_id, every_session=True)

    async def _retrieve(self, sender_id: str, every_session: bool) -> DialogueStateTracker | None:
        keys = [self._keys.dialogue_events(sender_id), self._keys.dialogue_session(sender_id)]
        cached = None if every_session else self._current(sender_id)
        held = getattr(cached, _STORED)[0] if cached is not None else -1
        found = await self._read(keys=keys, args=["1" if every_session else "0", held], client=self.redis)
        if not found:
            self._cache.pop(sender_id, None)
            return await self._move_legacy(sender_id, every_session)
        length, raw = int(found[0]), found[1:]
        if cached is not None and length == held:
            # Nothing was appended since this process saved or read it: the same tracker, not rebuilt.
            self._cache.move_to_end(sender_id)
            return cached
        tracker = DialogueStateTracker.from_dict(
            sender_id, [json.loads(e) for e in raw], self.domain.slots, self.max_event_history
        )
        setattr(tracker, _STORED, (length, len(tracker.events)))
        if not every_session:
            self._remember(tracker)
        return tracker

    def _current(self, sender_id: str) -> DialogueStateTracker | None:
        """Return the cached tracker unless it changed in memory without being saved (a failed turn)."""
        tracker = self._cache.get(sender_id)
        if tracker is not None and len(tracker.events) != getattr(tracker, _STORED)[1]:
            del self._cache[sender_id]
            return None
        return tracker

    def _remember(self, tracker: DialogueStateTracker) -> None:
        self._cache[tracker.sender_id] = tracker
        self._cache.move_to_end(tracker.sender_id)
        while len(self._cache) > CACHED_TRACKERS:
            self._cache.popitem(last=False)

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Append the tracker's events that are not stored yet (all of them for a tracker made elsewhere)."""
        await self.stream_events(tracker)
        known: tuple[int, int] | None = getattr(tracker, _STORED, None)
        events = list(tracker.events)
        expected, new = (known[0], events[known[1] :]) if known else (-1, events)
        if known and not new:
            return
        args: list[str | int] = [self.ttl_seconds, expected]
        for event in new:
            args += ["1" if isinstance(event, SessionStarted) else "0", json.dumps(event.as_dict())]
        keys = [self._keys.dialogue_events(tracker.sender_id), self._keys.dialogue_session(tracker.sender_id)]
        try:
            length = int(await self._append(keys=keys, args=args, client=self.redis))
        except Exception:
            self._cache.pop(tracker.sender_id, None)  # whether it was stored is unknown: read it again
            raise
        if length < 0:
            self._cache.pop(tracker.sender_id, None)
            raise TrackerConflict(f"conversation {tracker.sender_id!r} changed since its tracker was read")
        setattr(tracker, _STORED, (length, len(events)))
        if any(isinstance(event, SessionStarted) for event in new):
            # A new session began in this tracker: the next read keeps only it, as Rasa's reads do.
            self._cache.pop(tracker.sender_id, None)

    async def keys(self) -> Iterable[str]:
        """Return every conversation id with a stored tracker."""
        pattern = self._keys.dialogue_events("*")
        head, tail = pattern.split("*")
        return [
            str(key)[len(head) : -len(tail)] async for key in self.redis.scan_iter(match=pattern, count=500)
        ]

    async def _move_legacy(self, sender_id: str, every_session: bool) -> DialogueStateTracker | None:
        """Read a tracker Rasa's RedisTrackerStore wrote, store it as a list, and drop the old key."""
        old_key = self._keys.legacy_tracker(sender_id)
        stored = await self.redis.get(old_key)
        if stored is None:
            return None
        tracker = self.deserialise_tracker(sender_id, stored)
        if tracker is None:
            return None
        await self.save(tracker)  # not read from this store: written whole
        await self.redis.delete(old_key)
        self._cache.pop(sender_id, None)
        log.info("tracker moved to the event list", extra={"conversation": sender_id})
        return tracker if every_session else await self.retrieve(sender_id)
