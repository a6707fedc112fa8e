"""Erase a customer on request (PIPL / GDPR): everything that names them goes; the aggregates stay.

A customer is a profile and the channel identities (conversations) it holds. Erasing them walks every key
of the deployment once, so that no family of keys is forgotten when a new one is added:

* keys named after one of their conversations, identities or their profile (transcripts, conversation
  state, Rasa's tracker and lock, queues of messages and pushes, deliveries, rating prompts, profile
  parts, offline-message markers, queue tickets) are deleted;
* stream entries, hash fields and set members that name them (ratings and comments, raw service events,
  offline messages, the live list of conversations, queue indexes) are removed;
* complaint cases keep their number, category, times and outcome for the reports, but lose the customer,
  their conversations and the description;
* quality reviews (an agent's record: scores and the inspector's comment, no transcript) stay, filed
  under a random pseudonym instead of the conversation, so the agent's scorecard does not change.

The roll-ups the reports read hold counts per channel, team, agent and tier only, so the figures stay
right. The audit log keeps its entries (who did what when, the erasure included): they are the record a
regulator asks for, and they hold no transcript.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from core.keys import Keys
from core.redis import AsyncRedis

log = logging.getLogger(__name__)

ERASED = "[已删除 / erased]"
SCAN_COUNT = 500
# Every kind of key the engine writes (pub/sub channels hold nothing).
KINDS = ("string", "hash", "set", "zset", "stream", "list")
STREAM_BATCH = 1000


@dataclass
class Erased:
    """What an erasure removed, for its audit entry and the caller."""

    profile: str
    conversations: list[str]
    keys: int = 0
    entries: int = 0
    fields: int = 0
    members: int = 0
    cases: int = 0
    skipped: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """Return the counts (no personal data beyond the ids being erased)."""
        return {
            "profile": self.profile,
            "conversations": self.conversations,
            "keys": self.keys,
            "entries": self.entries,
            "fields": self.fields,
            "members": self.members,
            "cases": self.cases,
        }


def _names(text: str, targets: frozenset[str]) -> bool:
    """Whether ``text`` is a target, starts one (``telegram:42:1700…``), or is JSON naming one."""
    if text in targets or any(text.startswith(t + ":") for t in targets):
        return True
    if text[:1] not in "{[":
        return False
    try:
        return _json_names(json.loads(text), targets)
    except ValueError:
        return False


def _json_names(value: Any, targets: frozenset[str]) -> bool:
    if isinstance(value, str):
        return value in targets
    if isinstance(value, dict):
        return any(_json_names(v, targets) for v in value.values())
    if isinstance(value, list):
        return any(_json_names(v, targets) for v in value)
    return False


def _key_names(key: str, targets: frozenset[str]) -> bool:
    """Whether a key is named after a target (as its hash tag, a segment, or its end)."""
    return any(f"{{{t}}}" in key or key.endswith(":" + t) or f":{t}:" in key for t in targets)


class Eraser:
    """Find and remove one customer's personal data under one key prefix."""

    def __init__(self, client: AsyncRedis, keys: Keys) -> None:
        """Work on ``client`` under ``keys``' prefix."""
        self._redis = client
        self._keys = keys
        self._rename = client.register_script("return redis.call('RENAME', KEYS[1], KEYS[2])")

    async def subject(self, *, profile: str = "", conversation: str = "") -> tuple[str, list[str]]:
        """Return the profile and every conversation (identity) it holds; either id may be given."""
        keys = self._keys
        if not profile and conversation:
            profile = str(await self._redis.get(keys.identity(conversation)) or "")
        conversations = {conversation} if conversation else set()
        if profile:
            conversations |= set(await self._redis.smembers(keys.profile_part(profile, "ids")))
            conversations |= set(await self._redis.zrange(keys.profile_part(profile, "convs"), 0, -1))
            if not conversations and not await self._redis.exists(keys.profile(profile)):
                raise LookupError("no such customer")
        if not conversations:
            raise LookupError("no such customer")
        return profile, sorted(conversations)

    async def erase(self, *, profile: str = "", conversation: str = "") -> Erased:
        """Remove the customer everywhere; return what went."""
        profile, conversations = await self.subject(profile=profile, conversation=conversation)
        targets = frozenset(filter(None, [profile, *conversations]))
        done = Erased(profile, conversations)
        audit = self._keys.audit
        pseudonyms = {t: f"erased-{uuid.uuid4().hex[:12]}" for t in targets}
        quality = self._keys.quality.base
        for kind in KINDS:
            async for key in self._redis.scan_iter(match=self._keys.pattern(), count=SCAN_COUNT, _type=kind):
                if key == audit:
                    continue
                if key.startswith(quality):
                    done.members += await self._pseudonymise(key, kind, pseudonyms)
                elif _key_names(key, targets):
                    done.keys += int(await self._redis.delete(key))
                else:
                    await self._scrub(key, kind, targets, done)
        log.info("customer erased", extra=done.summary())
        return done

    async def _pseudonymise(self, key: str, kind: str, pseudonyms: dict[str, str]) -> int:
        """Keep a quality review (the agent's record) under a pseudonym instead of the conversation."""
        targets = frozenset(pseudonyms)
        changed = 0
        if _key_names(key, targets):
            renamed = key
            for target, pseudonym in pseudonyms.items():
                renamed = renamed.replace(target, pseudonym)
            await self._rename(keys=[key, renamed])  # same family, same hash tag: one slot
            key, changed = renamed, 1
        if kind == "zset":
            for member, score in await self._redis.zrange(key, 0, -1, withscores=True):
                if member in pseudonyms:
                    async with self._redis.pipeline(transaction=True, shard_hint=key) as pipe:
                        pipe.zrem(key, member)
                        pipe.zadd(key, {pseudonyms[member]: score})
                        await pipe.execute()
                    changed += 1
        elif kind == "hash":
            values = await self._redis.hgetall(key)
            replaced: dict[str | bytes, str] = {
                f: pseudonyms[v] for f, v in values.items() if v in pseudonyms
            }
            if replaced:
                await self._redis.hset(key, mapping=replaced)
                changed += len(replaced)
        return changed

    async def _scrub(self, key: str, kind: str, targets: frozenset[str], done: Erased) -> None:
        if kind == "stream":
            done.entries += await self._scrub_stream(key, targets)
        elif kind == "hash":
            await self._scrub_hash(key, targets, done)
        elif kind == "zset":
            members = [
                m for m, _ in await self._redis.zrange(key, 0, -1, withscores=True) if _names(m, targets)
            ]
            if members:
                done.members += int(await self._redis.zrem(key, *members))
        elif kind == "set":
            members = [m for m in await self._redis.smembers(key) if _names(m, targets)]
            if members:
                done.members += int(await self._redis.srem(key, *members))
        elif kind == "string":
            value = await self._redis.get(key)
            if value is not None and key.startswith(self._keys.complaints.case("")):
                done.cases += await self._scrub_case(key, value, targets)
            elif value is not None and _names(value, targets):
                done.keys += int(await self._redis.delete(key))

    async def _scrub_stream(self, key: str, targets: frozenset[str]) -> int:
        removed, start = 0, "-"
        while True:
            entries = await self._redis.xrange(key, min=start, count=STREAM_BATCH)
            if not entries:
                return removed
            doomed = [entry_id for entry_id, fields in entries if _mentions(fields.values(), targets)]
            if doomed:
                removed += int(await self._redis.xdel(key, *doomed))
            if len(entries) < STREAM_BATCH:
                return removed
            start = "(" + entries[-1][0]

    async def _scrub_hash(self, key: str, targets: frozenset[str], done: Erased) -> None:
        values = await self._redis.hgetall(key)
        if _mentions(values.values(), targets) and _looks_like_record(values):
            # One record per key (an offline message, say): the whole record is theirs.
            done.keys += int(await self._redis.delete(key))
            return
        doomed = [f for f, v in values.items() if _names(f, targets) or _names(v, targets)]
        if doomed:
            done.fields += int(await self._redis.hdel(key, *doomed))

    async def _scrub_case(self, key: str, raw: str, targets: frozenset[str]) -> int:
        try:
            case = json.loads(raw)
        except ValueError:
            return 0
        if not isinstance(case, dict) or not _json_names(case, targets):
            return 0
        # The case stays (its number, category, times and outcome feed the complaint reports).
        case.update(customer=ERASED, conversations=[], description=ERASED)
        await self._redis.set(key, json.dumps(case, ensure_ascii=False), keepttl=True)
        return 1


def _mentions(values: Iterable[str], targets: frozenset[str]) -> bool:
    return any(_names(v, targets) for v in values)


def _looks_like_record(values: dict[str, str]) -> bool:
    """Whether a hash is one record with a ``conversation`` field rather than an index of many."""
    return "conversation" in values
