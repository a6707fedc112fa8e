"""Complaint cases in Redis: opened once per customer and topic, moved only as their status allows."""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

from redis.exceptions import WatchError

from core.keys import Keys
from core.ports import Observe, observe_nothing
from core.redis import AsyncRedis
from handoff.complaints.deadlines import deadlines
from handoff.complaints.models import (
    LEVELS,
    MOVES,
    OPEN_STATUSES,
    Case,
    CaseError,
    Change,
    MoveRefused,
    Policy,
    Status,
)
from handoff.hours import Schedule

Calendar = Callable[[str], Awaitable[Schedule | None]]

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
  redis.call('ZADD', KEYS[4], ARGV[7], ARGV[3])
  redis.call('ZADD', KEYS[5], ARGV[2], ARGV[3])
  return 1
end
redis.call('RPUSH', KEYS[3], ARGV[5])
redis.call('LTRIM', KEYS[3], -tonumber(ARGV[6]), -1)
return 0
"""
HISTORY_MAXLEN = 1000
# Cases read per round trip when a list is filtered.
SCAN_CHUNK = 500
# The "which case were you asked about" marker outlives the confirmation window by a day (late taps).
ASKED_GRACE_SECONDS = 24 * 3600


@dataclass(frozen=True)
class Plan:
    """What one change does to a case: its new state, its history line and the events it announces."""

    case: Case
    change: Change
    events: Sequence[dict[str, Any]] = ()


class Complaints:
    """Open, read and move complaint cases under one key prefix."""

    def __init__(
        self,
        client: AsyncRedis,
        prefix: str,
        policy: Policy | None = None,
        clock: Callable[[], float] = time.time,
        calendar: Calendar | None = None,
        observe: Observe = observe_nothing,
    ) -> None:
        """Use ``client`` for keys under ``prefix``; ``clock`` is injectable so tests need not wait.

        ``calendar`` returns a team's opening hours, for business-hours deadlines.
        """
        self.redis = client
        self.policy = policy or Policy()
        self.keys = Keys(prefix).complaints
        self.clock = clock
        self._calendar = calendar
        self._observe = observe
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
        now = self.clock()
        calendar = await self._calendar(team) if self._calendar and self.policy.business_hours else None
        # Refuses unknown values before anything is kept.
        clock = deadlines(self.policy, severity, category, now, calendar)
        case_id, _ = await self._reserve(keys=[self.keys.open_for(customer, topic), self.keys.seq])
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
            respond_by=clock.respond_by,
            resolve_by=clock.resolve_by,
            language=language,
            agent=agent,
            escalate_at=clock.escalate_at,
        )
        created = await self._keep(case, now, actor, description)
        if created:
            await self._observe(
                "complaint_opened", topic, key=case.id, team=team, agent=agent, detail=severity
            )
        return (await self.get(case.id)) or case, created

    async def _keep(self, case: Case, now: float, actor: str, description: str) -> bool:
        """Write a new case with its first history line, or note a further complaint on it."""
        # Also when the reservation is older but its case was never written (the opener died): write it now.
        created = await self._write(
            keys=[
                self.keys.case(case.id),
                self.keys.due,
                self.keys.history(case.id),
                self.keys.escalate,
                self.keys.due_in(case.team),
            ],
            args=[
                case.to_json(),
                case.resolve_by,
                case.id,
                _line(Change(now, actor, "opened", f"{case.severity} · {case.category}")),
                _line(Change(now, actor, "complained_again", description[:500])),
                HISTORY_MAXLEN,
                case.escalate_at[0],
            ],
        )
        return bool(created)

    async def get(self, case_id: str) -> Case | None:
        """Return the case, or None."""
        raw = await self.redis.get(self.keys.case(case_id))
        return Case.from_json(raw) if raw else None

    async def unfinished(
        self,
        limit: int = 500,
        teams: Iterable[str] | None = None,
        keep: Callable[[Case], bool] = lambda case: True,
        due_before: float | None = None,
    ) -> list[Case]:
        """Return up to ``limit`` unfinished cases that ``keep`` accepts, the nearest deadline first.

        ``teams`` (None: every team) reads the teams' own indexes; ``due_before`` stops at that deadline.
        Cases are read in chunks until enough are found, so a filter never hides a match past the first page.
        """
        keys = [self.keys.due] if teams is None else [self.keys.due_in(team) for team in sorted(teams)]
        found: list[Case] = []
        for key in keys:
            found.extend(await self._scan(key, limit, keep, due_before))
        return sorted(found, key=lambda case: (case.resolve_by, case.id))[:limit]

    async def _scan(
        self, key: str, limit: int, keep: Callable[[Case], bool], due_before: float | None
    ) -> list[Case]:
        found: list[Case] = []
        start, until = 0, "+inf" if due_before is None else due_before
        while len(found) < limit:
            ids = await self.redis.zrangebyscore(key, "-inf", until, start=start, num=SCAN_CHUNK)
            if not ids:
                break
            start += len(ids)
            for raw in await self.redis.mget([self.keys.case(case_id) for case_id in ids]):
                case = Case.from_json(raw) if raw else None
                if case is not None and keep(case):
                    found.append(case)
                    if len(found) == limit:
                        break
        return found

    async def history(self, case_id: str) -> list[Change]:
        """Return the case's changes, oldest first."""
        return [
            Change(**json.loads(raw)) for raw in await self.redis.lrange(self.keys.history(case_id), 0, -1)
        ]

    async def note(self, case_id: str, actor: str, text: str) -> None:
        """Add an internal note to the case's history."""
        if await self.get(case_id) is None:
            raise KeyError(case_id)
        if not text.strip():
            raise CaseError("a note needs text")
        await self._append(case_id, Change(self.clock(), actor, "note", text[:2000]))

    async def move(
        self, case_id: str, to: Status, actor: str, detail: str = "", owner: str | None = None
    ) -> Case:
        """Move the case to ``to`` (and ``owner``, when given); MoveRefused when its status forbids it."""

        def plan(case: Case) -> Plan:
            if to not in MOVES[case.status]:
                raise MoveRefused(f"a case that is {case.status.value} cannot become {to.value}")
            now = self.clock()
            moved = replace(case, status=to, owner=case.owner if owner is None else owner)
            if to is Status.RESOLVED:
                confirm_by = now + self.policy.confirm_hours * 3600
                moved = replace(moved, resolved_at=now, confirm_by=confirm_by)
            event = {"event": to.value, "case": case.id, "team": moved.team, "owner": moved.owner}
            return Plan(moved, Change(now, actor, to.value, detail[:2000]), [event])

        try:
            return (await self.transact(case_id, plan))[1]
        except WatchError:
            raise MoveRefused("the case changed meanwhile; read it again") from None

    async def reassign(self, case_id: str, actor: str, *, owner: str, team: str | None = None) -> Case:
        """Give an unfinished case to ``owner`` (empty: the team's pool), optionally in another team."""

        def plan(case: Case) -> Plan:
            if case.status not in OPEN_STATUSES:
                raise MoveRefused(f"a case that is {case.status.value} cannot be reassigned")
            moved = replace(case, owner=owner, team=team or case.team)
            detail = f"{case.owner or case.team} → {owner or 'team ' + moved.team}"
            event = {"event": "reassigned", "case": case.id, "team": moved.team, "owner": owner}
            return Plan(moved, Change(self.clock(), actor, "reassigned", detail), [event])

        try:
            return (await self.transact(case_id, plan))[1]
        except WatchError:
            raise MoveRefused("the case changed meanwhile; read it again") from None

    async def transact(self, case_id: str, plan: Callable[[Case], Plan | None]) -> tuple[Case, Case]:
        """Apply ``plan`` to the case atomically, keeping its indexes right; WatchError on a race.

        Optimistic: a concurrent change makes the write fail, so two instances never apply one step twice.
        When ``plan`` returns None nothing is written and the case is returned unchanged (twice).
        """
        key, asked = self.keys.case(case_id), None
        async with self.redis.pipeline(transaction=True, shard_hint=key) as pipe:
            await pipe.watch(key)
            raw = await pipe.get(key)
            if not raw:
                raise KeyError(case_id)
            case = Case.from_json(raw)
            step = plan(case)
            if step is None:
                return case, case
            asked_key = self.keys.asked(case.conversations[0])
            await pipe.watch(asked_key)
            asked = await pipe.get(asked_key)
            pipe.multi()
            pipe.set(key, step.case.to_json())
            pipe.rpush(self.keys.history(case_id), _line(step.change))
            pipe.ltrim(self.keys.history(case_id), -HISTORY_MAXLEN, -1)
            self._index(pipe, case, step.case, asked == case_id)
            for event in step.events:
                message = json.dumps({"type": "case", **event}, ensure_ascii=False)
                pipe.publish(self.keys.events(step.case.team), message)
                pipe.publish(self.keys.all_events, message)
            await pipe.execute()
        await self._report(step)
        return case, step.case

    async def _report(self, step: Plan) -> None:
        """Tell the service events of the moves the reports count (once: keyed by case and move)."""
        case, at = step.case, step.change.at
        kinds = {
            "escalated": "complaint_escalated",
            "resolved": "complaint_resolved",
            "confirmed": "complaint_confirmed",
            "closed_unconfirmed": "complaint_closed_unconfirmed",
        }
        for event in step.events:
            kind = kinds.get(str(event.get("event")))
            if kind is None:
                continue
            # Time to confirm (or to close unanswered) counts from the opening.
            value = (
                at - case.opened_at
                if kind in ("complaint_confirmed", "complaint_closed_unconfirmed")
                else None
            )
            key = f"{case.id}:{event.get('event')}:{event.get('level', '')}:{at!r}"
            await self._observe(
                kind,
                case.conversations[0],
                key=key,
                team=case.team,
                agent=case.owner,
                detail=case.severity,
                value=value,
            )

    def _index(self, pipe: Any, before: Case, case: Case, asked_about_it: bool) -> None:
        """Queue the index updates that keep the sorted sets in step with the case's status and team."""
        keys, status = self.keys, case.status
        asked_key = keys.asked(case.conversations[0])
        if before.team != case.team or status not in OPEN_STATUSES:
            pipe.zrem(keys.due_in(before.team), case.id)
        if status in OPEN_STATUSES:
            pipe.zadd(keys.due_in(case.team), {case.id: case.resolve_by})
        if status not in OPEN_STATUSES:
            pipe.zrem(keys.due, case.id)
            pipe.zrem(keys.escalate, case.id)
            pipe.zrem(keys.awaiting, case.id)
            pipe.delete(keys.open_for(case.customer, case.conversations[0]))
            if asked_about_it:
                pipe.delete(asked_key)
            return
        if status is Status.RESOLVED:
            # The clock stops while the customer is asked; only their answer or silence moves it on.
            pipe.zrem(keys.escalate, case.id)
            pipe.zadd(keys.awaiting, {case.id: case.confirm_by})
            ttl = int(case.confirm_by - self.clock()) + ASKED_GRACE_SECONDS
            pipe.set(asked_key, case.id, ex=max(ttl, 60))
            return
        pipe.zrem(keys.awaiting, case.id)
        if asked_about_it:
            pipe.delete(asked_key)
        if case.level < len(LEVELS) and case.level < len(case.escalate_at):
            pipe.zadd(keys.escalate, {case.id: case.escalate_at[case.level]})
        else:
            pipe.zrem(keys.escalate, case.id)

    async def _append(self, case_id: str, change: Change) -> None:
        async with self.redis.pipeline(transaction=True, shard_hint=self.keys.history(case_id)) as pipe:
            pipe.rpush(self.keys.history(case_id), _line(change))
            pipe.ltrim(self.keys.history(case_id), -HISTORY_MAXLEN, -1)
            await pipe.execute()


def _line(change: Change) -> str:
    return json.dumps(asdict(change), ensure_ascii=False)
