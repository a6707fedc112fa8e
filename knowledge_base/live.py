"""The live knowledge base of one engine instance: publish, roll back, and hot reload via pub/sub."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis

from core.keys import KB_SEEDING_TTL_SECONDS
from core.tasks import stop_tasks
from knowledge_base.calibrate import Calibration, Labelled, calibrate
from knowledge_base.entries import FaqEntry
from knowledge_base.formats import load_bytes
from knowledge_base.index import Found, KnowledgeIndex, locale_for
from knowledge_base.matcher import Band, Thresholds
from knowledge_base.state import MatcherState
from knowledge_base.store import KnowledgeStore, PublishRefused, Snapshot, diff_entries
from knowledge_base.usage import EntryUsage

log = logging.getLogger(__name__)

SEED_FILE = Path(__file__).parent / "data" / "faq.yml"
# Safety net behind pub/sub: a message lost during a reconnect is caught by this poll.
POLL_SECONDS = 5.0


@dataclass(frozen=True)
class LiveIndex:
    """The index customers are answered from and the version it was built from."""

    version: int
    index: KnowledgeIndex
    built_s: float


def build_index(
    entries: Sequence[FaqEntry],
    synonyms: dict[str, list[str]],
    thresholds: Thresholds,
    built: Mapping[str, MatcherState] | None = None,
) -> KnowledgeIndex:
    """Build the index a version answers with; the one place publish, reload and tests build it."""
    return KnowledgeIndex(entries, synonyms=synonyms, thresholds=thresholds, built=built)


def check_golden(index: KnowledgeIndex, golden: Sequence[dict[str, str]]) -> list[dict[str, Any]]:
    """Return one report row per golden question the index gets wrong."""
    failures = []
    for item in golden:
        found = index.find(item["text"], item["locale"])
        decision = found.decision if found else None
        escalated = decision is None or decision.band is Band.ESCALATE
        got = "escalate" if escalated or decision is None else (decision.entry_id or "escalate")
        wanted = "escalate" if item["expected"] in ("escalate", "__oos__") else item["expected"]
        if got != wanted:
            failures.append(
                {
                    **item,
                    "got": got,
                    "band": decision.band.value if decision else "escalate",
                    "explanation": decision.explain() if decision else None,
                }
            )
    return failures


async def _ignore_band(band: str, conversation_id: str, message_id: str) -> None:
    """Hear of an answer's band and do nothing (where nobody counts them)."""


class LiveKnowledgeBase:
    """Holds the current index, swaps it on publish, and follows other instances' publishes."""

    def __init__(self, client: aioredis.Redis[str], prefix: str, seed_file: Path | None = SEED_FILE) -> None:
        """Serve the knowledge base stored under ``prefix``; seed it from ``seed_file`` when empty."""
        self.store = KnowledgeStore(client, prefix)
        self.usage = EntryUsage(client, self.store.keys)
        self.seed_file = seed_file
        self._live: LiveIndex | None = None
        self._swap_lock = asyncio.Lock()
        self._tasks: list[asyncio.Task[None]] = []
        self._draft_cache: tuple[str, KnowledgeIndex] | None = None
        # Told the band of every answer the bot gives from this KB, with its conversation and message
        # (the engine's metrics and service events).
        self.on_band: Callable[[str, str, str], Awaitable[None]] = _ignore_band

    @property
    def live(self) -> LiveIndex | None:
        """Return the index answering customers now (None before the first load)."""
        return self._live

    async def start(self) -> None:
        """Load the live version (seeding version 1 when the store is empty) and follow publishes."""
        await self.store.adopt_legacy_keys()
        if await self.store.live_version() is None and self.seed_file is not None:
            await self._seed()
        await self.reload()
        self._tasks = [
            asyncio.create_task(self._listen()),
            asyncio.create_task(self._poll()),
            asyncio.create_task(self.usage.run()),
        ]

    async def stop(self) -> None:
        """Stop following publishes."""
        await stop_tasks(*self._tasks)
        self._tasks = []

    async def _seed(self) -> None:
        assert self.seed_file is not None
        # One instance seeds; the others wait for its publish (or the poll) to pick it up.
        if not await self.store.redis.set(self.store.keys.seeding, "1", nx=True, ex=KB_SEEDING_TTL_SECONDS):
            return
        entries = load_bytes(self.seed_file.read_bytes(), "yaml")
        await self.store.replace_drafts(entries)
        await self.store.commit(entries, {}, Thresholds(), "system", f"seeded from {self.seed_file.name}")

    async def reload(self, version: int | None = None) -> LiveIndex | None:
        """Make ``version`` (default: the stored live one) the answering index.

        A version heard of (``version`` given) is taken only when newer than the one answering: a late
        message about an older publish never moves an instance back. The stored pointer, which only
        moves forward, is taken whenever it differs (it is the truth, even after a restore).
        """
        target = version if version is not None else await self.store.live_version()
        if target is None:
            return self._live
        async with self._swap_lock:
            current = self._live.version if self._live is not None else None
            if current is not None and (current == target or (version is not None and target < current)):
                return self._live
            snapshot = await self.store.snapshot(target)
            if snapshot is None:
                log.error("kb: live version missing", extra={"version": target})
                return self._live
            started = time.perf_counter()
            built = {**self._built_here(), **await self.store.load_built(target)}
            index = await asyncio.to_thread(
                build_index, snapshot.entries, snapshot.synonyms, snapshot.thresholds, built
            )
            self._live = LiveIndex(snapshot.version, index, time.perf_counter() - started)
            log.info(
                "kb: live version loaded", extra={"version": target, "build_s": round(self._live.built_s, 3)}
            )
            return self._live

    async def _listen(self) -> None:
        delay = 0.5
        while True:
            pubsub = self.store.redis.pubsub()
            try:
                await pubsub.subscribe(self.store.keys.published)
                # Anything published while we were not subscribed is picked up here.
                await self.reload()
                delay = 0.5
                async for message in pubsub.listen():
                    if message.get("type") == "message":
                        with contextlib.suppress(ValueError):
                            await self.reload(int(message["data"]))
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("kb: publish listener lost its connection; retrying", exc_info=True)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.reset()

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(POLL_SECONDS)
            try:
                await self.reload()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("kb: live version poll failed", exc_info=True)

    # Answering -------------------------------------------------------------------------------
    def find(self, question: str, language: str | None) -> Found | None:
        """Match a customer's question against the live index (None before anything is published)."""
        live = self._live
        return live.index.find(question, locale_for(language)) if live else None

    async def record_unanswered(
        self, found: Found | None, text: str, language: str | None, source: str
    ) -> None:
        """Put an unanswered question in the content inbox."""
        normalised = found.decision.normalised if found else text.strip().lower()
        await self.store.record_unanswered(normalised, text, locale_for(language), source)

    # Content staff ---------------------------------------------------------------------------
    async def draft_index(self) -> KnowledgeIndex:
        """Return an index over the draft (cached until the draft changes), for the tester."""
        entries = await self.store.draft_entries()
        synonyms = await self.store.synonyms()
        thresholds = await self.current_thresholds()
        digest = hashlib.sha256(
            json.dumps(
                [[e.to_dict() for e in entries], synonyms, [thresholds.answer, thresholds.suggest]],
                sort_keys=True,
                ensure_ascii=False,
            ).encode()
        ).hexdigest()
        if self._draft_cache and self._draft_cache[0] == digest:
            return self._draft_cache[1]
        index = await asyncio.to_thread(build_index, entries, synonyms, thresholds, self._built_here())
        self._draft_cache = (digest, index)
        return index

    def _built_here(self) -> dict[str, MatcherState]:
        """Return what the live and draft indexes built, for a new build to load where it fits."""
        built: dict[str, MatcherState] = {}
        for index in (
            self._live.index if self._live else None,
            self._draft_cache[1] if self._draft_cache else None,
        ):
            if index is not None:
                built.update(index.states())
        return built

    async def current_thresholds(self) -> Thresholds:
        """Return the thresholds the next publish will use."""
        stored = await self.store.thresholds()
        if stored is not None:
            return stored
        live = await self.store.live_snapshot()
        return live.thresholds if live else Thresholds()

    async def publish(self, author: str, message: str, *, force: bool = False) -> Snapshot:
        """Publish the draft: check golden questions, store a version, answer from it everywhere."""
        entries = await self.store.draft_entries()
        if not entries:
            raise ValueError("the draft has no entries; nothing to publish")
        synonyms = await self.store.synonyms()
        thresholds = await self.current_thresholds()
        # Staff test and calibrate the draft before publishing: what that built is reused here.
        index = await asyncio.to_thread(build_index, entries, synonyms, thresholds, self._built_here())
        failures = check_golden(index, await self.store.golden())
        if failures and not force:
            raise PublishRefused(failures)
        snapshot = await self.store.commit(
            entries, synonyms, thresholds, author, message, built=index.states()
        )
        await self._adopt(snapshot.version, index)
        log.info(
            "kb: published",
            extra={"version": snapshot.version, "author": author, "forced_failures": len(failures)},
        )
        return snapshot

    async def rollback(self, version: int, author: str) -> Snapshot:
        """Publish an old version again as a new version, and reset the draft to it."""
        old = await self.store.snapshot(version)
        if old is None:
            raise KeyError(version)
        built = {**self._built_here(), **await self.store.load_built(version)}
        index = await asyncio.to_thread(build_index, old.entries, old.synonyms, old.thresholds, built)
        snapshot = await self.store.commit(
            old.entries,
            old.synonyms,
            old.thresholds,
            author,
            f"rollback to version {version}",
            built=index.states(),
        )
        await self.store.replace_drafts(old.entries)
        await self.store.set_synonyms(old.synonyms)
        await self.store.set_thresholds(old.thresholds)
        await self._adopt(snapshot.version, index)
        return snapshot

    async def _adopt(self, version: int, index: KnowledgeIndex) -> None:
        """Answer from the index this instance just published, unless a newer version got here first."""
        async with self._swap_lock:
            if self._live is None or self._live.version < version:
                self._live = LiveIndex(version, index, 0.0)

    async def diff(self, old_version: int, new_version: int | None) -> dict[str, Any]:
        """Diff two versions (``new_version`` None means the current draft)."""
        old = await self.store.snapshot(old_version)
        if old is None:
            raise KeyError(old_version)
        if new_version is None:
            new_entries: Sequence[FaqEntry] = await self.store.draft_entries()
        else:
            new = await self.store.snapshot(new_version)
            if new is None:
                raise KeyError(new_version)
            new_entries = new.entries
        return diff_entries(old.entries, new_entries)

    async def calibrate(self, locale: str, **targets: float) -> Calibration:
        """Choose thresholds on the golden questions of ``locale`` and keep them for the next publish."""
        golden = await self.store.golden_labelled(locale)
        if not golden:
            raise ValueError("add golden questions before calibrating")
        index = await self.draft_index()
        result = await asyncio.to_thread(calibrate, index, golden, locale, **targets)
        await self.store.set_thresholds(result.thresholds)
        return result


__all__ = ["Labelled", "LiveIndex", "LiveKnowledgeBase", "PublishRefused", "build_index", "check_golden"]
