"""Quality inspection (质检): a weighted checklist, samples of closed conversations, and reviews.

Samples come from two sources: a random share of each agent's closed conversations (up to a daily quota
per agent), and every conversation with a low rating or a complaint. Quality staff score a sample against
the checklist (0-5 per criterion, with comments); the agent reads their own reviews, and the weighted
score (0-100) feeds the agent scorecards.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from core.keys import Keys
from core.redis import AsyncRedis

MAX_POINTS = 5
REVIEWS_PER_AGENT = 1000
SAMPLE_TTL_SECONDS = 90 * 24 * 3600
REASONS = ("random", "low_rating", "complaint")


class QualityError(ValueError):
    """A checklist or review that cannot be kept; the message says what is wrong."""


@dataclass(frozen=True)
class Criterion:
    """One line of the checklist: what is judged and how much it weighs."""

    id: str
    name: str
    weight: int
    description: str = ""


DEFAULT_CHECKLIST = (
    Criterion("greeting", "开场问候", 10, "主动问候并自我介绍"),
    Criterion("accuracy", "准确解答", 40, "答案正确、完整，解决了客户的问题"),
    Criterion("courtesy", "礼貌用语", 20, "用语礼貌，没有生硬或不耐烦的表达"),
    Criterion("timeliness", "及时响应", 20, "回复及时，没有让客户久等"),
    Criterion("closing", "结束语", 10, "确认问题已解决并礼貌道别"),
)


def parse_checklist(data: object) -> tuple[Criterion, ...]:
    """Validate a checklist's JSON (a list of criteria with weights summing to 100)."""
    if not isinstance(data, list) or not data:
        raise QualityError("a checklist is a non-empty list of criteria")
    criteria, seen = [], set()
    for item in data:
        if not isinstance(item, dict):
            raise QualityError("each criterion is an object with id, name and weight")
        cid, name, weight = item.get("id"), item.get("name"), item.get("weight")
        if not isinstance(cid, str) or not cid or len(cid) > 40 or cid in seen:
            raise QualityError(f"criterion ids are unique short texts: {cid!r}")
        if not isinstance(name, str) or not name.strip() or not isinstance(weight, int) or weight <= 0:
            raise QualityError(f"criterion {cid}: a name and a positive whole weight")
        seen.add(cid)
        criteria.append(Criterion(cid, name.strip()[:80], weight, str(item.get("description", ""))[:300]))
    if sum(c.weight for c in criteria) != 100:
        raise QualityError(f"the weights add up to {sum(c.weight for c in criteria)}, not 100")
    return tuple(criteria)


@dataclass(frozen=True)
class Review:
    """One scored conversation."""

    conversation: str
    agent: str
    reviewer: str
    scores: Mapping[str, int]
    comments: Mapping[str, str]
    comment: str
    total: float
    at: float
    reason: str = "random"
    checklist: Sequence[Mapping[str, Any]] = field(default_factory=list)

    def view(self) -> dict[str, Any]:
        """Return the JSON-ready view."""
        return asdict(self)


def score(checklist: Sequence[Criterion], scores: Mapping[str, object]) -> float:
    """Return the weighted score 0-100; QualityError when a criterion is missing or out of range."""
    total = 0.0
    for criterion in checklist:
        points = scores.get(criterion.id)
        if not isinstance(points, int) or isinstance(points, bool) or not 0 <= points <= MAX_POINTS:
            raise QualityError(f"score {criterion.id} ({criterion.name}) with 0-{MAX_POINTS}")
        total += criterion.weight * points / MAX_POINTS
    unknown = set(scores) - {c.id for c in checklist}
    if unknown:
        raise QualityError(f"not on the checklist: {', '.join(sorted(unknown))}")
    return round(total, 1)


class Quality:
    """The checklist, the samples waiting for review and the reviews, under one key prefix."""

    def __init__(
        self,
        client: AsyncRedis,
        prefix: str,
        sample_rate: float = 0.1,
        daily_quota: int = 5,
        clock: Callable[[], float] = time.time,
        chance: Callable[[], float] = random.random,
    ) -> None:
        """Sample ``sample_rate`` of each agent's closed conversations, at most ``daily_quota`` a day."""
        self.redis = client
        self._keys = Keys(prefix).quality
        self.sample_rate = sample_rate
        self.daily_quota = daily_quota
        self._clock = clock
        self._chance = chance

    async def checklist(self) -> tuple[Criterion, ...]:
        """Return the checklist in use (the default until quality staff set one)."""
        raw = await self.redis.get(self._keys.checklist)
        return parse_checklist(json.loads(raw)) if raw else DEFAULT_CHECKLIST

    async def set_checklist(self, data: object) -> tuple[Criterion, ...]:
        """Validate and keep a new checklist; reviews already made keep the checklist they were scored on."""
        criteria = parse_checklist(data)
        await self.redis.set(
            self._keys.checklist, json.dumps([asdict(c) for c in criteria], ensure_ascii=False)
        )
        return criteria

    async def consider(self, conversation: str, agent: str, reason: str = "random") -> bool:
        """Sample a closed conversation for review (always for a low rating or complaint); True when taken."""
        if reason not in REASONS:
            raise QualityError(f"reason is one of {', '.join(REASONS)}")
        if not agent or agent == "bot":
            return False
        now = self._clock()
        if reason == "random":
            if self._chance() >= self.sample_rate:
                return False
            day = dt.datetime.fromtimestamp(now, dt.timezone.utc).strftime("%Y%m%d")
            quota = self._keys.quota(agent, day)
            taken = int(await self.redis.incr(quota))
            await self.redis.expire(quota, 2 * 24 * 3600)
            if taken > self.daily_quota:
                return False
        meta = json.dumps({"agent": agent, "reason": reason, "at": now})
        if await self.redis.exists(self._keys.review(conversation)):
            return False  # reviewed already
        # A random pick is taken once (NX: a retried close samples nothing twice); a low rating or a
        # complaint always samples, and names its reason even over an earlier random pick.
        added = await self.redis.set(
            self._keys.sampled(conversation), meta, nx=reason == "random", ex=SAMPLE_TTL_SECONDS
        )
        if added:
            await self.redis.zadd(self._keys.samples, {conversation: now})
        return bool(added)

    async def flag(self, conversation: str, reason: str = "complaint") -> None:
        """Mark a conversation not yet with an agent (a complaint to the bot): sample it when it closes."""
        await self.redis.set(self._keys.flag(conversation), reason, ex=7 * 24 * 3600)

    async def closed(self, conversation: str, agent: str) -> bool:
        """Consider a conversation an agent just closed: flagged ones always, the rest at random."""
        flagged = await self.redis.getdel(self._keys.flag(conversation))
        return await self.consider(conversation, agent, flagged or "random")

    async def is_sampled(self, conversation: str) -> bool:
        """Whether the conversation was sampled for review (or has been reviewed)."""
        return bool(
            await self.redis.exists(self._keys.sampled(conversation), self._keys.review(conversation))
        )

    async def samples(self, limit: int = 200) -> list[dict[str, Any]]:
        """Return conversations waiting for review, oldest first, with their agent and reason."""
        conversations = await self.redis.zrange(self._keys.samples, 0, limit - 1)
        if not conversations:
            return []
        metas = await self.redis.mget([self._keys.sampled(c) for c in conversations])
        waiting = []
        for conversation, meta in zip(conversations, metas, strict=True):
            if meta:
                waiting.append({"conversation": conversation, **json.loads(meta)})
        return waiting

    async def review(
        self,
        conversation: str,
        reviewer: str,
        scores: Mapping[str, object],
        comments: Mapping[str, object] | None = None,
        comment: str = "",
    ) -> Review:
        """Score a sampled conversation; KeyError when it was not sampled, QualityError for bad scores."""
        meta_raw = await self.redis.get(self._keys.sampled(conversation))
        if meta_raw is None:
            raise KeyError(conversation)
        meta = json.loads(meta_raw)
        checklist = await self.checklist()
        total = score(checklist, scores)
        notes = {k: str(v)[:500] for k, v in (comments or {}).items() if k in {c.id for c in checklist}}
        review = Review(
            conversation,
            meta["agent"],
            reviewer,
            {k: int(str(v)) for k, v in scores.items()},
            notes,
            comment[:2000],
            total,
            self._clock(),
            meta["reason"],
            [asdict(c) for c in checklist],
        )
        async with self.redis.pipeline(transaction=True, shard_hint=self._keys.samples) as pipe:
            pipe.set(self._keys.review(conversation), json.dumps(review.view(), ensure_ascii=False))
            pipe.zadd(self._keys.by_agent(review.agent), {conversation: review.at})
            pipe.zremrangebyrank(self._keys.by_agent(review.agent), 0, -REVIEWS_PER_AGENT - 1)
            pipe.zrem(self._keys.samples, conversation)
            await pipe.execute()
        return review

    async def reviews_of(self, agent: str, limit: int = 100) -> list[Review]:
        """Return an agent's reviews, newest first."""
        conversations = await self.redis.zrevrange(self._keys.by_agent(agent), 0, limit - 1)
        if not conversations:
            return []
        raws = await self.redis.mget([self._keys.review(c) for c in conversations])
        return [Review(**json.loads(raw)) for raw in raws if raw]

    async def average(self, agent: str, since: float = 0.0) -> tuple[float | None, int]:
        """Return the agent's mean review score since ``since`` and how many reviews it is over."""
        reviews = [r for r in await self.reviews_of(agent, REVIEWS_PER_AGENT) if r.at >= since]
        if not reviews:
            return None, 0
        return round(sum(r.total for r in reviews) / len(reviews), 1), len(reviews)
