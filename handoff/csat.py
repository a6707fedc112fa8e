"""Customer satisfaction (CSAT): the prompt after a conversation closes, and the ratings.

Ratings go to one stream (conversation, agent, channel, tier, score) and per-agent/per-channel/per-tier
counters, so supervisors can slice them without scanning. Bot-only conversations can be rated too
(agent ``bot``).
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass

from bot.redis_conn import AsyncRedis

# Score, Chinese label, English label: the five levels, best first (buttons show them in this order).
LEVELS = (
    (5, "非常满意", "Very satisfied"),
    (4, "满意", "Satisfied"),
    (3, "一般", "Neutral"),
    (2, "不满意", "Dissatisfied"),
    (1, "非常不满意", "Very dissatisfied"),
)
PENDING_TTL_SECONDS = 24 * 3600
_PROMPT = {
    "zh": "本次服务已结束，请为我们的服务打分：",
    "en": "This conversation has ended. How satisfied were you with our service?",
}
_THANKS = {
    "zh": "感谢您的评价！还有其他问题可以随时问我。",
    "en": "Thank you for your rating! Ask me anything else any time.",
}


@dataclass(frozen=True)
class Rating:
    """One customer's rating of one conversation."""

    conversation_id: str
    score: int
    agent: str
    channel: str
    tier: str
    language: str = "zh"


def prompt(language: str) -> tuple[str, list[tuple[str, str]]]:
    """Return the prompt text and its buttons (title, payload) in the customer's language."""
    lang = "en" if language == "en" else "zh"
    buttons = [(en if lang == "en" else zh, zh if lang == "zh" else en) for _, zh, en in LEVELS]
    return _PROMPT[lang], buttons


def thanks(language: str) -> str:
    """Return the thank-you line."""
    return _THANKS["en" if language == "en" else "zh"]


def parse(text: str) -> int | None:
    """Return the score a reply means (a level's label in either language, or 1-5), else None."""
    cleaned = re.sub(r"[\s。.!！]+", "", text).lower()
    for score, zh, en in LEVELS:
        if cleaned in (zh, en.replace(" ", "").lower(), str(score)):
            return score
    return None


class Csat:
    """Pending prompts and stored ratings under one key prefix."""

    def __init__(self, client: AsyncRedis, prefix: str) -> None:
        """Use ``client`` for keys under ``prefix``."""
        self.redis = client
        self._prefix = prefix

    def _pending(self, conversation_id: str) -> str:
        return f"{self._prefix}:conv:{{{conversation_id}}}:csat"

    async def offer(self, conversation_id: str, agent: str, channel: str, tier: str, language: str) -> None:
        """Remember that the customer was asked to rate this conversation."""
        data = {"agent": agent, "channel": channel, "tier": tier, "language": language}
        await self.redis.set(self._pending(conversation_id), json.dumps(data), ex=PENDING_TTL_SECONDS)

    async def pending(self, conversation_id: str) -> dict[str, str] | None:
        """Return the pending prompt's context, or None."""
        raw = await self.redis.get(self._pending(conversation_id))
        return dict(json.loads(raw)) if raw else None

    async def answer(self, conversation_id: str, text: str) -> Rating | None:
        """Record the rating if ``text`` is one; the prompt is used up either way."""
        context = await self.pending(conversation_id)
        if context is None:
            return None
        await self.redis.delete(self._pending(conversation_id))
        score = parse(text)
        if score is None:
            return None
        rating = Rating(
            conversation_id,
            score,
            context["agent"],
            context["channel"],
            context["tier"],
            context.get("language", "zh"),
        )
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.xadd(
                f"{self._prefix}:csat",
                {
                    "conversation": conversation_id,
                    "score": str(score),
                    "agent": rating.agent,
                    "channel": rating.channel,
                    "tier": rating.tier,
                    "at": str(int(time.time() * 1000)),
                },
                maxlen=100_000,
                approximate=True,
            )
            for dimension, value in (
                ("agent", rating.agent),
                ("channel", rating.channel),
                ("tier", rating.tier),
            ):
                pipe.hincrby(f"{self._prefix}:csat:{dimension}:{value}", str(score), 1)
            await pipe.execute()
        return rating

    async def summary(self, dimension: str, value: str) -> dict[str, float]:
        """Return count and mean score for one agent, channel or tier."""
        counts = {
            int(k): int(v)
            for k, v in (await self.redis.hgetall(f"{self._prefix}:csat:{dimension}:{value}")).items()
        }
        total = sum(counts.values())
        mean = sum(score * n for score, n in counts.items()) / total if total else 0.0
        return {"count": total, "mean": round(mean, 2), **{str(k): v for k, v in sorted(counts.items())}}
