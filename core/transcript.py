"""Every conversation's transcript (customer, bot, agents) and the outbox for channels that cannot push."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass

from core.keys import RECENT_WINDOW_SECONDS, TRANSCRIPT_MAXLEN, TRANSCRIPT_TTL_SECONDS, Keys
from core.redis import AsyncPipeline, AsyncRedis

ROLES = ("customer", "bot", "agent", "system")


@dataclass(frozen=True)
class Line:
    """One message in a transcript or an outbox."""

    id: str
    role: str
    text: str
    author: str
    at_ms: int
    buttons: tuple[tuple[str, str], ...] = ()

    def to_dict(self) -> dict[str, object]:
        """Return the line as JSON-ready data."""
        data: dict[str, object] = {
            "id": self.id,
            "role": self.role,
            "text": self.text,
            "author": self.author,
            "at": self.at_ms,
        }
        if self.buttons:
            data["buttons"] = [{"title": t, "payload": p} for t, p in self.buttons]
        return data


def _line(entry_id: str, fields: dict[str, str]) -> Line:
    buttons = tuple((str(t), str(p)) for t, p in json.loads(fields.get("buttons") or "[]"))
    return Line(
        entry_id,
        fields.get("role", ""),
        fields.get("text", ""),
        fields.get("author", ""),
        int(fields.get("at", 0)),
        buttons,
    )


class Transcripts:
    """Append and read transcripts and outboxes; one Redis stream each, per conversation."""

    def __init__(self, client: AsyncRedis, keys: Keys, ttl_seconds: int = TRANSCRIPT_TTL_SECONDS) -> None:
        """Use ``client`` for keys under ``keys``; a transcript lives ``ttl_seconds`` after its last line."""
        self._redis = client
        self._keys = keys
        self._ttl = ttl_seconds

    async def append(self, conversation_id: str, role: str, text: str, author: str = "") -> str:
        """Add a line to the conversation's transcript and return its id."""
        async with self._redis.pipeline(transaction=False) as pipe:
            self.queue_append(pipe, conversation_id, role, text, author)
            results = await pipe.execute()
        return str(results[0])

    def queue_append(
        self,
        pipe: AsyncPipeline,
        conversation_id: str,
        role: str,
        text: str,
        author: str = "",
        message_key: str = "",
    ) -> None:
        """Queue the commands of `append` on ``pipe`` (its first result is the line's id).

        A customer line carries its message's key, so a replayed message is not written twice.
        """
        key = self._keys.transcript(conversation_id)
        now_ms = int(time.time() * 1000)
        fields = {"role": role, "text": text, "author": author, "at": str(now_ms)}
        if message_key:
            fields["mid"] = message_key
        # Redis runs a pipeline's commands in order, so the signal goes out after the line is stored and
        # consoles watching this conversation, on any instance, refresh at once.
        pipe.xadd(key, fields, maxlen=TRANSCRIPT_MAXLEN, approximate=True)
        pipe.expire(key, self._ttl)
        if role == "customer":
            recent = self._keys.recent_conversations
            pipe.zadd(recent, {conversation_id: now_ms})
            pipe.zremrangebyscore(recent, "-inf", now_ms - RECENT_WINDOW_SECONDS * 1000)
        pipe.publish(self._keys.transcript_signal(conversation_id), str(now_ms))

    async def has_customer_line(self, conversation_id: str, message_key: str, within: int = 50) -> bool:
        """Return whether one of the newest ``within`` lines is the customer message ``message_key``."""
        entries = await self._redis.xrevrange(self._keys.transcript(conversation_id), count=within)
        return any(fields.get("mid") == message_key for _, fields in entries)

    async def read(self, conversation_id: str, count: int = 500) -> list[Line]:
        """Return the newest ``count`` lines, oldest first."""
        entries = await self._redis.xrevrange(self._keys.transcript(conversation_id), count=count)
        return [_line(entry_id, fields) for entry_id, fields in reversed(entries)]

    async def recent(self, since_ms: int, limit: int = 50) -> list[tuple[str, int]]:
        """Return conversations whose customer wrote since ``since_ms``, newest first, with that time."""
        rows = await self._redis.zrevrangebyscore(
            self._keys.recent_conversations, "+inf", since_ms, start=0, num=limit, withscores=True
        )
        return [(str(member), int(score)) for member, score in rows]

    async def push_outbox(
        self,
        conversation_id: str,
        role: str,
        text: str,
        author: str = "",
        buttons: Sequence[tuple[str, str]] = (),
    ) -> str:
        """Queue a message for a customer whose channel is polled rather than pushed to."""
        key = self._keys.outbox(conversation_id)
        fields = {"role": role, "text": text, "author": author, "at": str(int(time.time() * 1000))}
        if buttons:
            fields["buttons"] = json.dumps([list(b) for b in buttons], ensure_ascii=False)
        entry_id = await self._redis.xadd(key, fields, maxlen=TRANSCRIPT_MAXLEN, approximate=True)
        await self._redis.expire(key, self._ttl)
        return str(entry_id)

    async def read_outbox(self, conversation_id: str, after: str = "0", count: int = 100) -> list[Line]:
        """Return outbox messages newer than ``after`` (a stream id), oldest first."""
        start = f"({after}" if after and after != "0" else "-"
        entries = await self._redis.xrange(self._keys.outbox(conversation_id), min=start, count=count)
        return [_line(entry_id, fields) for entry_id, fields in entries]
