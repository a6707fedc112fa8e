"""The knowledge base in Redis: drafts, published versions, golden questions, synonyms, the inbox.

Layout under the deployment prefix (``{p}``):

* ``{p}:{kb}:draft`` hash ``locale/id`` → entry JSON: what staff edit; customers never see it.
* ``{p}:{kb}:version:{n}`` string: a published snapshot (entries, synonyms, thresholds, author, time,
  message); ``{p}:{kb}:versions`` sorted set of version numbers; ``{p}:{kb}:live`` the version answering.
* ``{p}:{kb}:golden`` JSON list of golden questions; ``{p}:{kb}:synonyms`` draft synonyms JSON;
  ``{p}:{kb}:thresholds`` calibrated thresholds JSON (copied into the next publish).
* ``{p}:{kb}:inbox`` sorted set normalised question → count, ``{p}:{kb}:inbox:meta`` hash with a sample.
* Channel ``{p}:{kb}:published`` carries the new live version number to every engine instance.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import WatchError

from core.key_moves import move_prefixed_once
from core.keys import KB_BUILT_TTL_SECONDS, Keys
from core.privacy import mask_personal
from knowledge_base.calibrate import Labelled
from knowledge_base.entries import EntryError, FaqEntry, parse_entry
from knowledge_base.matcher import Thresholds
from knowledge_base.state import MatcherState, states_from_bytes, states_to_bytes

INBOX_MAX = 5000
# Phone, card and order numbers do not belong in a list content staff browse: runs of 7+ digits
# are masked in the inbox (the count groups them all the same).
_LONG_DIGITS = re.compile(r"\d{7,}")


def mask_numbers(text: str) -> str:
    """Mask personal data (e-mail too), then any long digit run, keeping its first three and last two."""
    text = mask_personal(text)
    return _LONG_DIGITS.sub(lambda m: m.group(0)[:3] + "*" * (len(m.group(0)) - 5) + m.group(0)[-2:], text)


class PublishRefused(Exception):
    """A publish that would break golden questions; carries the report."""

    def __init__(self, report: list[dict[str, Any]]) -> None:
        """Keep the failing golden questions for the response."""
        super().__init__(f"{len(report)} golden question(s) would break")
        self.report = report


@dataclass(frozen=True)
class Snapshot:
    """One published version: everything needed to rebuild the live index exactly."""

    version: int
    author: str
    message: str
    published_at: float
    entries: tuple[FaqEntry, ...]
    synonyms: dict[str, list[str]]
    thresholds: Thresholds

    def meta(self) -> dict[str, Any]:
        """Return the version's listing fields."""
        return {
            "version": self.version,
            "author": self.author,
            "message": self.message,
            "published_at": self.published_at,
            "entries": len(self.entries),
        }


def entry_key(entry: FaqEntry) -> str:
    """Return the draft hash field of an entry: ids are unique per locale."""
    return f"{entry.locale}/{entry.id}"


def _snapshot_json(snapshot: Snapshot) -> str:
    return json.dumps(
        {
            **snapshot.meta(),
            "entries": [e.to_dict() for e in snapshot.entries],
            "synonyms": snapshot.synonyms,
            "thresholds": {"answer": snapshot.thresholds.answer, "suggest": snapshot.thresholds.suggest},
        },
        ensure_ascii=False,
    )


def _snapshot_from(raw: str | bytes) -> Snapshot:
    data = json.loads(raw)
    return Snapshot(
        version=int(data["version"]),
        author=str(data["author"]),
        message=str(data["message"]),
        published_at=float(data["published_at"]),
        entries=tuple(parse_entry(e) for e in data["entries"]),
        synonyms={str(k): [str(v) for v in vs] for k, vs in data["synonyms"].items()},
        thresholds=Thresholds(**data["thresholds"]),
    )


def diff_entries(old: Iterable[FaqEntry], new: Iterable[FaqEntry]) -> dict[str, Any]:
    """Return what changed from ``old`` to ``new``: added, removed and changed fields per entry."""
    before = {entry_key(e): e.to_dict() for e in old}
    after = {entry_key(e): e.to_dict() for e in new}
    changed = {}
    for key in sorted(before.keys() & after.keys()):
        fields = {
            name: {"before": before[key].get(name), "after": after[key].get(name)}
            for name in sorted(before[key].keys() | after[key].keys())
            if before[key].get(name) != after[key].get(name)
        }
        if fields:
            changed[key] = fields
    return {
        "added": [after[k] for k in sorted(after.keys() - before.keys())],
        "removed": [before[k] for k in sorted(before.keys() - after.keys())],
        "changed": changed,
    }


def _parse_synonyms(raw: Any) -> dict[str, list[str]]:
    if not isinstance(raw, Mapping):
        raise EntryError("synonyms must map a word to its variants")
    out: dict[str, list[str]] = {}
    for word, variants in raw.items():
        if not isinstance(word, str) or not word.strip():
            raise EntryError("each synonym group needs a word")
        if isinstance(variants, str):
            variants = [v for v in variants.replace("，", ",").split(",")]
        if not isinstance(variants, list) or not all(isinstance(v, str) for v in variants):
            raise EntryError(f"synonyms of {word!r} must be a list of texts")
        cleaned = [v.strip() for v in variants if v.strip()]
        if cleaned:
            out[word.strip()] = cleaned
    return out


class KnowledgeStore:
    """Async access to the knowledge base's Redis keys under one prefix."""

    def __init__(self, client: aioredis.Redis[str], prefix: str) -> None:
        """Use ``client`` for keys under ``prefix``."""
        self.redis = client
        self.keys = Keys(prefix).kb
        self._legacy = Keys(prefix).legacy_kb

    async def adopt_legacy_keys(self) -> int:
        """Move keys written before the ``{kb}`` hash tag to their tagged names; return how many moved."""
        return await move_prefixed_once(self.redis, self._legacy, self.keys.base)

    # Drafts -----------------------------------------------------------------------------------
    async def draft_entries(self) -> list[FaqEntry]:
        """Return every draft entry, sorted by locale and id."""
        raw = await self.redis.hgetall(self.keys.draft)
        return sorted((parse_entry(json.loads(v)) for v in raw.values()), key=entry_key)

    async def draft_entry(self, locale: str, entry_id: str) -> FaqEntry | None:
        """Return one draft entry, or None."""
        raw = await self.redis.hget(self.keys.draft, f"{locale}/{entry_id}")
        return parse_entry(json.loads(raw)) if raw else None

    async def save_entry(self, entry: FaqEntry) -> None:
        """Create or replace a draft entry."""
        await self.redis.hset(
            self.keys.draft, entry_key(entry), json.dumps(entry.to_dict(), ensure_ascii=False)
        )

    async def delete_entry(self, locale: str, entry_id: str) -> bool:
        """Delete a draft entry; return whether it existed."""
        return bool(await self.redis.hdel(self.keys.draft, f"{locale}/{entry_id}"))

    async def change_entries(
        self, keys: Sequence[str], change: Callable[[FaqEntry], FaqEntry | None]
    ) -> tuple[int, list[str]]:
        """Apply ``change`` to the draft entries under ``keys`` (``locale/id``); None deletes the entry.

        One read and one transaction, so a bulk action is applied whole. Returns how many entries
        changed and the keys that were no entry.
        """
        raws = await self.redis.hmget(self.keys.draft, list(keys)) if keys else []
        missing = [key for key, raw in zip(keys, raws, strict=True) if raw is None]
        async with self.redis.pipeline(transaction=True, shard_hint=self.keys.draft) as pipe:
            for key, raw in zip(keys, raws, strict=True):
                if raw is None:
                    continue
                changed = change(parse_entry(json.loads(raw)))
                if changed is None:
                    pipe.hdel(self.keys.draft, key)
                else:
                    pipe.hset(self.keys.draft, key, json.dumps(changed.to_dict(), ensure_ascii=False))
            await pipe.execute()
        return len(keys) - len(missing), missing

    async def replace_drafts(self, entries: Sequence[FaqEntry]) -> None:
        """Replace all draft entries at once (an import, or a rollback)."""
        mapping: dict[str | bytes, str] = {
            entry_key(e): json.dumps(e.to_dict(), ensure_ascii=False) for e in entries
        }
        async with self.redis.pipeline(transaction=True, shard_hint=self.keys.draft) as pipe:
            pipe.delete(self.keys.draft)
            if mapping:
                pipe.hset(self.keys.draft, mapping=mapping)
            await pipe.execute()

    async def merge_drafts(self, entries: Sequence[FaqEntry]) -> None:
        """Add or replace the given draft entries, keeping the others."""
        if entries:
            mapping: dict[str | bytes, str] = {
                entry_key(e): json.dumps(e.to_dict(), ensure_ascii=False) for e in entries
            }
            await self.redis.hset(self.keys.draft, mapping=mapping)

    async def synonyms(self) -> dict[str, list[str]]:
        """Return the draft synonym groups."""
        raw = await self.redis.get(self.keys.synonyms)
        return _parse_synonyms(json.loads(raw)) if raw else {}

    async def set_synonyms(self, raw: Any) -> dict[str, list[str]]:
        """Validate and store the draft synonym groups."""
        synonyms = _parse_synonyms(raw)
        await self.redis.set(self.keys.synonyms, json.dumps(synonyms, ensure_ascii=False))
        return synonyms

    async def thresholds(self) -> Thresholds | None:
        """Return the thresholds the next publish uses, if calibrated or set."""
        raw = await self.redis.get(self.keys.thresholds)
        return Thresholds(**json.loads(raw)) if raw else None

    async def set_thresholds(self, thresholds: Thresholds) -> None:
        """Store thresholds for the next publish."""
        await self.redis.set(
            self.keys.thresholds, json.dumps({"answer": thresholds.answer, "suggest": thresholds.suggest})
        )

    # Golden questions -------------------------------------------------------------------------
    async def golden(self) -> list[dict[str, str]]:
        """Return the golden questions: text, expected entry id (or "escalate") and locale."""
        raw = await self.redis.get(self.keys.golden)
        return list(json.loads(raw)) if raw else []

    async def set_golden(self, items: Any) -> list[dict[str, str]]:
        """Validate and replace the golden questions."""
        if not isinstance(items, list):
            raise EntryError("golden questions must be a list")
        cleaned = []
        for number, item in enumerate(items, start=1):
            if not isinstance(item, Mapping):
                raise EntryError(f"golden question {number} must be an object")
            text = str(item.get("text") or "").strip()
            expected = str(item.get("expected") or "").strip()
            locale = str(item.get("locale") or "zh-CN")
            if not text or not expected:
                raise EntryError(f"golden question {number} needs a text and an expected entry or 'escalate'")
            if locale not in ("zh-CN", "en"):
                raise EntryError(f"golden question {number}: locale must be zh-CN or en")
            cleaned.append({"text": text[:500], "expected": expected[:80], "locale": locale})
        await self.redis.set(self.keys.golden, json.dumps(cleaned, ensure_ascii=False))
        return cleaned

    async def golden_labelled(self, locale: str) -> list[Labelled]:
        """Return the golden questions of one locale for calibration."""
        return [Labelled(g["text"], g["expected"]) for g in await self.golden() if g["locale"] == locale]

    # Versions ---------------------------------------------------------------------------------
    async def live_version(self) -> int | None:
        """Return the version customers are answered from, or None before the first publish."""
        raw = await self.redis.get(self.keys.live)
        return int(raw) if raw else None

    async def snapshot(self, version: int) -> Snapshot | None:
        """Return one published version, or None."""
        raw = await self.redis.get(self.keys.version(version))
        return _snapshot_from(raw) if raw else None

    async def live_snapshot(self) -> Snapshot | None:
        """Return the live version's snapshot."""
        version = await self.live_version()
        return await self.snapshot(version) if version is not None else None

    async def versions(self, limit: int = 100) -> list[dict[str, Any]]:
        """Return the newest versions' metadata, newest first."""
        numbers = await self.redis.zrevrange(self.keys.versions, 0, limit - 1)
        out = []
        for number in numbers:
            snap = await self.snapshot(int(number))
            if snap:
                out.append(snap.meta())
        return out

    async def commit(
        self,
        entries: Sequence[FaqEntry],
        synonyms: dict[str, list[str]],
        thresholds: Thresholds,
        author: str,
        message: str,
        built: Mapping[str, MatcherState] | None = None,
    ) -> Snapshot:
        """Store a new version, make it live and tell every instance (the caller checked it).

        The live pointer only moves forward: when two publishes race, the higher version number wins
        wherever they land, and the other stays in the history (never live over a newer one).
        """
        version = int(await self.redis.incr(self.keys.version_seq))
        snap = Snapshot(version, author, message, time.time(), tuple(entries), synonyms, thresholds)
        # What was built goes first, so an instance told about the version finds it.
        await self.save_built(version, built or {})
        async with self.redis.pipeline(transaction=True, shard_hint=self.keys.live) as pipe:
            while True:
                try:
                    await pipe.watch(self.keys.live)
                    raw = await pipe.get(self.keys.live)
                    previous = int(raw) if raw else None
                    pipe.multi()
                    pipe.set(self.keys.version(version), _snapshot_json(snap))
                    pipe.zadd(self.keys.versions, {str(version): version})
                    # Tens of MB a version: only the live one keeps its built state.
                    if previous is None or previous < version:
                        pipe.set(self.keys.live, version)
                        pipe.publish(self.keys.published, str(version))
                        if previous is not None:
                            pipe.delete(self.keys.built(previous))
                    else:
                        pipe.delete(self.keys.built(version))
                    await pipe.execute()
                    return snap
                except WatchError:
                    continue  # another publish moved the pointer meanwhile: decide again

    async def save_built(self, version: int, states: Mapping[str, MatcherState]) -> None:
        """Store what a version's publish built (one binary blob; see `knowledge_base.state`)."""
        if not states:
            return
        # The client speaks text, and redis-py 4.6's asyncio hiredis parser ignores NEVER_DECODE, so
        # bytes travel as Latin-1 text (one code point per byte: exact, and ~10x cheaper than base64).
        text = states_to_bytes(list(states.values())).decode("latin-1")
        await self.redis.set(self.keys.built(version), text, ex=KB_BUILT_TTL_SECONDS)

    async def load_built(self, version: int) -> dict[str, MatcherState]:
        """Return what a version's publish built, or nothing if it is gone or unreadable."""
        raw = await self.redis.get(self.keys.built(version))
        if not raw:
            return {}
        try:
            return {state.key: state for state in states_from_bytes(raw.encode("latin-1"))}
        except (ValueError, KeyError, TypeError, EOFError):
            return {}  # unreadable (or an older format): the instance builds the index itself

    # Inbox ------------------------------------------------------------------------------------
    async def record_unanswered(self, normalised: str, text: str, locale: str, source: str) -> None:
        """Count an unanswered question (escalated, fallback, or answered by an agent)."""
        if not normalised:
            return
        field = f"{locale}|{mask_numbers(normalised)}"[:600]
        meta = json.dumps(
            {"text": mask_numbers(text[:500]), "locale": locale, "source": source, "at": time.time()},
            ensure_ascii=False,
        )
        async with self.redis.pipeline(transaction=True, shard_hint=self.keys.inbox) as pipe:
            pipe.zincrby(self.keys.inbox, 1, field)
            pipe.hset(self.keys.inbox_meta, field, meta)
            await pipe.execute()
        # Keep the inbox bounded: drop the rarest when it grows past INBOX_MAX.
        size = await self.redis.zcard(self.keys.inbox)
        if size > INBOX_MAX:
            dropped = await self.redis.zpopmin(self.keys.inbox, size - INBOX_MAX)
            if dropped:
                await self.redis.hdel(self.keys.inbox_meta, *[member for member, _ in dropped])

    async def inbox(self, limit: int = 200) -> list[dict[str, Any]]:
        """Return the most frequent unanswered questions with a sample text."""
        rows = await self.redis.zrevrange(self.keys.inbox, 0, limit - 1, withscores=True)
        if not rows:
            return []
        metas = await self.redis.hmget(self.keys.inbox_meta, [member for member, _ in rows])
        out = []
        for (member, count), meta in zip(rows, metas, strict=True):
            key = member.decode() if isinstance(member, bytes) else str(member)
            info = json.loads(meta) if meta else {}
            out.append({"key": key, "count": int(count), **info})
        return out

    async def dismiss(self, key: str) -> None:
        """Remove one question from the inbox (turned into an entry, or not worth one)."""
        await self.redis.zrem(self.keys.inbox, key)
        await self.redis.hdel(self.keys.inbox_meta, key)


def utc_now() -> dt.datetime:
    """Return the current time, timezone-aware."""
    return dt.datetime.now(dt.timezone.utc)
