"""留言: messages customers leave outside business hours or instead of a long wait; agents see them first.

Each message is a small ticket: open in its team's list (oldest first) until an agent claims it, which
hands them the conversation (a take-over) with the message and everything before it in the transcript.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from core.key_moves import move_prefixed_once
from core.keys import OFFLINE_LEAVING_TTL_SECONDS, Keys
from core.redis import AsyncRedis

MAX_TEXT_CHARS = 2000

# KEYS: item, open list. ARGV: id, agent. Only an open message can be claimed, and only once.
_CLAIM = """
if redis.call('HGET', KEYS[1], 'status') ~= 'open' then return 0 end
redis.call('HSET', KEYS[1], 'status', 'claimed', 'agent', ARGV[2])
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
"""


@dataclass(frozen=True)
class OfflineMessage:
    """One message a customer left for the agents."""

    id: str
    conversation_id: str
    team: str
    text: str
    tier: str
    channel: str
    created_ms: int
    status: str
    agent: str

    def to_dict(self) -> dict[str, object]:
        """Return the message as the console shows it."""
        return {
            "id": self.id,
            "conversation": self.conversation_id,
            "team": self.team,
            "text": self.text,
            "tier": self.tier,
            "channel": self.channel,
            "created_at": self.created_ms,
            "status": self.status,
            "agent": self.agent,
        }


def parse_leaving(raw: str | None) -> tuple[str, str] | None:
    """Return (team, language) from the raw `offline_leaving` marker, or None without one."""
    if not raw:
        return None
    team, _, language = str(raw).partition("|")
    return team, language or "zh"


class OfflineMessages:
    """Left messages and the customers about to leave one, under one key prefix."""

    def __init__(self, client: AsyncRedis, prefix: str) -> None:
        """Use ``client`` for keys under ``prefix``."""
        self._redis = client
        self._keys = Keys(prefix)
        self._claim = client.register_script(_CLAIM)

    async def adopt_legacy_keys(self) -> int:
        """Move messages and open lists stored before the ``{left}`` hash tag; return how many keys moved."""
        moved = 0
        for family in ("item", "open"):
            old, new = self._keys.legacy_offline(family), f"{self._keys.offline_base}:{family}"
            moved += await move_prefixed_once(self._redis, old, new)
        return moved

    async def start(self, conversation_id: str, team: str, language: str) -> None:
        """Mark that the customer's next message is a message for ``team``."""
        await self._redis.set(
            self._keys.offline_leaving(conversation_id), f"{team}|{language}", ex=OFFLINE_LEAVING_TTL_SECONDS
        )

    async def leaving(self, conversation_id: str) -> tuple[str, str] | None:
        """Return (team, language) when the customer's next message is to be left, else None."""
        return parse_leaving(await self._redis.get(self._keys.offline_leaving(conversation_id)))

    async def add(
        self, conversation_id: str, team: str, text: str, tier: str = "regular", channel: str = ""
    ) -> OfflineMessage:
        """Store the message in its team's open list and end the 'leaving' mark."""
        message = OfflineMessage(
            uuid.uuid4().hex[:12],
            conversation_id,
            team,
            text.strip()[:MAX_TEXT_CHARS],
            tier,
            channel,
            int(time.time() * 1000),
            "open",
            "",
        )
        # The message and its team's list share the {left} slot: one transaction. The mark is the
        # conversation's; it goes after (a death in between leaves it, and the next message is left too).
        async with self._redis.pipeline(transaction=True, shard_hint=self._keys.offline_open(team)) as pipe:
            pipe.hset(
                self._keys.offline_message(message.id),
                mapping={
                    "conversation": conversation_id,
                    "team": team,
                    "text": message.text,
                    "tier": tier,
                    "channel": channel,
                    "created_ms": message.created_ms,
                    "status": "open",
                    "agent": "",
                },
            )
            pipe.zadd(self._keys.offline_open(team), {message.id: message.created_ms})
            await pipe.execute()
        await self._redis.delete(self._keys.offline_leaving(conversation_id))
        return message

    async def get(self, message_id: str) -> OfflineMessage | None:
        """Return one message, or None."""
        data = await self._redis.hgetall(self._keys.offline_message(message_id))
        if not data:
            return None
        return OfflineMessage(
            message_id,
            data["conversation"],
            data["team"],
            data["text"],
            data.get("tier", "regular"),
            data.get("channel", ""),
            int(data["created_ms"]),
            data["status"],
            data.get("agent", ""),
        )

    async def open(self, teams: set[str], limit: int = 100) -> list[OfflineMessage]:
        """Return the open messages of ``teams``, oldest first."""
        found: list[OfflineMessage] = []
        for team in sorted(teams):
            for message_id in await self._redis.zrange(self._keys.offline_open(team), 0, limit - 1):
                message = await self.get(message_id)
                if message is not None:
                    found.append(message)
        return sorted(found, key=lambda m: m.created_ms)[:limit]

    async def claim(self, message_id: str, agent: str) -> OfflineMessage | None:
        """Claim an open message for ``agent`` (None when it is gone or someone was first)."""
        message = await self.get(message_id)
        if message is None:
            return None
        claimed = await self._claim(
            keys=[self._keys.offline_message(message_id), self._keys.offline_open(message.team)],
            args=[message_id, agent],
        )
        return await self.get(message_id) if int(claimed) == 1 else None

    async def release(self, message: OfflineMessage) -> None:
        """Put a claimed message back in its team's open list (the agent could not take it)."""
        await self._redis.hset(
            self._keys.offline_message(message.id), mapping={"status": "open", "agent": ""}
        )
        await self._redis.zadd(self._keys.offline_open(message.team), {message.id: message.created_ms})
