"""Complaint cases in Redis: opened once per customer and topic, moved only as their status allows."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, replace

from core.keys import Keys
from core.redis import AsyncRedis
from handoff.complaints.models import (
    MOVES,
    OPEN_STATUSES,
    Case,
    CaseError,
    Change,
    MoveRefused,
    Policy,
    Status,
)

# Reserve the customer's open case for a topic, or return the one already open: retries and a second
# complaint about the same conversation land on the same case.
_RESERVE = """
local existing = redis.call('GET', KEYS[1])
if existing then return {existing, 0} end
local number = redis.call('INCR', KEYS[2])
local id = string.format('TS%06d', number)
redis.call('SET', KEYS[1], id)
return {id, 1}
"""
# Write the case unless it exists, with its first history line; else record the complaint on it. One
# script, so five concurrent retries write one case and one "opened".
_WRITE = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX') then
  redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
  redis.call('RPUSH', KEYS[3], ARGV[4])
  return 1
end
redis.call('RPUSH', KEYS[3], ARGV[5])
redis.call('LTRIM', KEYS[3], -tonumber(ARGV[6]), -1)
return 0
"""
HISTORY_MAXLEN = 1000


class Complaints:
    """Open, read and move complaint cases under one key prefix."""

    def __init__(
        self,
        client: AsyncRedis,
        prefix: str,
        policy: Policy | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Use ``client`` for keys under ``prefix``; ``clock`` is injectable so tests need not wait."""
        self.redis = client
        self.policy = policy or Policy()
        self._keys = Keys(prefix).complaints
        self._clock = clock
        self._reserve = client.register_script(_RESERVE)
        self._write = client.register_script(_WRITE)

    async def open(
        self,
        customer: str,
        topic: str,
        description: str,
        *,
        channel: str,
        team: str,
        actor: str,
        category: str | None = None,
        severity: str | None = None,
        language: str = "zh",
        agent: str = "",
    ) -> tuple[Case, bool]:
        """Open a case, or add to the customer's open case about ``topic``; True when it is new."""
        category = category or self.policy.default_category
        severity = severity or self.policy.default_severity
        targets = self.policy.targets(severity, category)  # refuses unknown values before anything is kept
        case_id, _ = await self._reserve(keys=[self._keys.open_for(customer, topic), self._keys.seq])
        now = self._clock()
        case = Case(
            id=str(case_id),
            customer=customer,
            conversations=(topic,),
            channel=channel,
            category=category,
            severity=severity,
            description=description[:2000],
            team=team,
            owner="",
            status=Status.OPEN,
            opened_at=now,
            respond_by=now + targets.respond_minutes * 60,
            resolve_by=now + targets.resolve_minutes * 60,
            language=language,
            agent=agent,
        )
        # Also when the reservation is older but its case was never written (the opener died): write it now.
        created = await self._write(
            keys=[self._keys.case(case.id), self._keys.due, self._keys.history(case.id)],
            args=[
                case.to_json(),
                case.resolve_by,
                case.id,
                _line(Change(now, actor, "opened", f"{severity} · {category}")),
                _line(Change(now, actor, "complained_again", description[:500])),
                HISTORY_MAXLEN,
            ],
        )
        return (await self.get(case.id)) or case, bool(created)

    async def get(self, case_id: str) -> Case | None:
        """Return the case, or None."""
        raw = await self.redis.get(self._keys.case(case_id))
        return Case.from_json(raw) if raw else None

    async def unfinished(self, limit: int = 500) -> list[Case]:
        """Return unfinished cases, the nearest resolution deadline first."""
        ids = await self.redis.zrange(self._keys.due, 0, limit - 1)
        if not ids:
            return []
        raws = await self.redis.mget([self._keys.case(case_id) for case_id in ids])
        return [Case.from_json(raw) for raw in raws if raw]

    async def history(self, case_id: str) -> list[Change]:
        """Return the case's changes, oldest first."""
        return [
            Change(**json.loads(raw)) for raw in await self.redis.lrange(self._keys.history(case_id), 0, -1)
        ]

    async def note(self, case_id: str, actor: str, text: str) -> None:
        """Add an internal note to the case's history."""
        if await self.get(case_id) is None:
            raise KeyError(case_id)
        if not text.strip():
            raise CaseError("a note needs text")
        await self._append(case_id, Change(self._clock(), actor, "note", text[:2000]))

    async def move(
        self, case_id: str, to: Status, actor: str, detail: str = "", owner: str | None = None
    ) -> Case:
        """Move the case to ``to`` (and ``owner``, when given); CaseError when its status forbids it."""
        key = self._keys.case(case_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            # Optimistic: a concurrent move makes execute() fail and nothing is written twice.
            await pipe.watch(key)
            raw = await pipe.get(key)
            if not raw:
                raise KeyError(case_id)
            case = Case.from_json(raw)
            if to not in MOVES[case.status]:
                raise MoveRefused(f"a case that is {case.status.value} cannot become {to.value}")
            moved = replace(case, status=to, owner=case.owner if owner is None else owner)
            pipe.multi()
            pipe.set(key, moved.to_json())
            change = Change(self._clock(), actor, to.value, detail[:2000])
            pipe.rpush(self._keys.history(case_id), _line(change))
            if to not in OPEN_STATUSES:
                pipe.zrem(self._keys.due, case_id)
                pipe.delete(self._keys.open_for(case.customer, case.conversations[0]))
            await pipe.execute()
        return moved

    async def _append(self, case_id: str, change: Change) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.rpush(self._keys.history(case_id), _line(change))
            pipe.ltrim(self._keys.history(case_id), -HISTORY_MAXLEN, -1)
            await pipe.execute()


def _line(change: Change) -> str:
    return json.dumps(asdict(change), ensure_ascii=False)
