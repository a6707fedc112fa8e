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

from core.keys import (
    CSAT_COMMENT_TTL_SECONDS,
    CSAT_PENDING_TTL_SECONDS,
    CSAT_STREAM_MAXLEN,
    Keys,
)
from core.redis import AsyncRedis

# Score, Chinese label, English label: the five levels, best first (buttons show them in this order).
LEVELS = (
    (5, "非常满意", "Very satisfied"),
    (4, "满意", "Satisfied"),
    (3, "一般", "Neutral"),
    (2, "不满意", "Dissatisfied"),
    (1, "非常不满意", "Very dissatisfied"),
)
_PROMPT = {
    "zh": "本次服务已结束，请为我们的服务打分：",
    "en": "This conversation has ended. How satisfied were you with our service?",
}
_THANKS = {
    "zh": "感谢您的评价！还有其他问题可以随时问我。",
    "en": "Thank you for your rating! Ask me anything else any time.",
}
# The optional comment: a button after the thanks, then the next message is the comment.
COMMENT_PAYLOAD = "/csat_comment"
MAX_COMMENT_CHARS = 1000
_COMMENT_BUTTON = {"zh": "写评价", "en": "Add a comment"}
_COMMENT_ASK = {"zh": "请写下您的意见或建议：", "en": "Please write your comment:"}
_COMMENT_THANKS = {"zh": "已收到您的意见，谢谢！", "en": "Thank you, we have your comment."}


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


def thanks(language: str) -> tuple[str, list[tuple[str, str]]]:
    """Return the thank-you line and its button for an optional comment."""
    lang = "en" if language == "en" else "zh"
    return _THANKS[lang], [(_COMMENT_BUTTON[lang], COMMENT_PAYLOAD)]


def parse(text: str) -> int | None:
    """Return the score a reply means (a level's label in either language, or its number), else None.

    A number is the button's place in the list a text-only channel shows ("1. 非常满意" … "5. 非常不满意"),
    so "1" is the best level, as the customer read it, not score 1.
    """
    cleaned = re.sub(r"[\s。.!！]+", "", text).lower()
    for place, (score, zh, en) in enumerate(LEVELS, start=1):
        if cleaned in (zh, en.replace(" ", "").lower(), str(place)):
            return score
    return None


class Csat:
    """Pending prompts and stored ratings under one key prefix."""

    def __init__(self, client: AsyncRedis, prefix: str) -> None:
        """Use ``client`` for keys under ``prefix``."""
        self.redis = client
        self._keys = Keys(prefix)
        self._pending = self._keys.csat_pending
        self._comment = self._keys.csat_comment

    async def offer(self, conversation_id: str, agent: str, channel: str, tier: str, language: str) -> None:
        """Remember that the customer was asked to rate this conversation."""
        data = {"agent": agent, "channel": channel, "tier": tier, "language": language}
        await self.redis.set(self._pending(conversation_id), json.dumps(data), ex=CSAT_PENDING_TTL_SECONDS)

    async def pending(self, conversation_id: str) -> dict[str, str] | None:
        """Return the pending prompt's context, or None."""
        raw = await self.redis.get(self._pending(conversation_id))
        return dict(json.loads(raw)) if raw else None

    async def answer(self, conversation_id: str, text: str) -> Rating | None:
        """Record the rating if ``text`` is one; the prompt is used up either way."""
        return await self.answer_pending(
            conversation_id, text, await self.redis.get(self._pending(conversation_id))
        )

    async def answer_pending(self, conversation_id: str, text: str, stored: str | None) -> Rating | None:
        """Do `answer` with the pending prompt already read (``stored``: the raw value of `csat_pending`)."""
        context = dict(json.loads(stored)) if stored else None
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
        # The rating and its tallies live in different Cluster slots: one pipeline, not a transaction (the
        # server runs all it received; only a node lost mid-write leaves a tally one short of the stream).
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.xadd(
                self._keys.csat_stream,
                {
                    "conversation": conversation_id,
                    "score": str(score),
                    "agent": rating.agent,
                    "channel": rating.channel,
                    "tier": rating.tier,
                    "at": str(int(time.time() * 1000)),
                },
                maxlen=CSAT_STREAM_MAXLEN,
                approximate=True,
            )
            for dimension, value in (
                ("agent", rating.agent),
                ("channel", rating.channel),
                ("tier", rating.tier),
            ):
                pipe.hincrby(self._keys.csat_counts(dimension, value), str(score), 1)
            results = await pipe.execute()
        context = {**context, "score": str(score), "rating": str(results[0]), "awaiting": ""}
        await self.redis.set(self._comment(conversation_id), json.dumps(context), ex=CSAT_COMMENT_TTL_SECONDS)
        return rating

    async def follow_up(self, conversation_id: str, text: str) -> str | None:
        """Handle the optional comment after a rating; return the reply, or None when ``text`` is not it.

        The comment button asks for the comment; the next message is then stored as the comment.
        """
        return await self.follow_up_stored(
            conversation_id, text, await self.redis.get(self._comment(conversation_id))
        )

    async def follow_up_stored(self, conversation_id: str, text: str, raw: str | None) -> str | None:
        """Do `follow_up` with the comment window already read (``raw``: the value of `csat_comment`)."""
        if raw is None:
            return None
        context = dict(json.loads(raw))
        lang = "en" if context.get("language") == "en" else "zh"
        if context.get("awaiting"):
            comment = text.strip()[:MAX_COMMENT_CHARS]
            if not comment:
                return None
            await self.redis.xadd(
                self._keys.csat_comments,
                {
                    "conversation": conversation_id,
                    "rating": context["rating"],
                    "score": context["score"],
                    "agent": context["agent"],
                    "channel": context["channel"],
                    "tier": context["tier"],
                    "text": comment,
                    "at": str(int(time.time() * 1000)),
                },
                maxlen=CSAT_STREAM_MAXLEN,
                approximate=True,
            )
            await self.redis.delete(self._comment(conversation_id))
            return _COMMENT_THANKS[lang]
        if text.strip() not in (COMMENT_PAYLOAD, *_COMMENT_BUTTON.values()):
            return None
        context["awaiting"] = "1"
        await self.redis.set(self._comment(conversation_id), json.dumps(context), ex=CSAT_COMMENT_TTL_SECONDS)
        return _COMMENT_ASK[lang]

    async def comments(self, count: int = 50) -> list[dict[str, str]]:
        """Return the newest comments, newest first, with their rating's context."""
        entries = await self.redis.xrevrange(self._keys.csat_comments, count=count)
        return [dict(fields) for _id, fields in entries]

    async def summary(self, dimension: str, value: str) -> dict[str, float]:
        """Return count and mean score for one agent, channel or tier."""
        counts = {
            int(k): int(v)
            for k, v in (await self.redis.hgetall(self._keys.csat_counts(dimension, value))).items()
        }
        total = sum(counts.values())
        mean = sum(score * n for score, n in counts.items()) / total if total else 0.0
        return {"count": total, "mean": round(mean, 2), **{str(k): v for k, v in sorted(counts.items())}}
