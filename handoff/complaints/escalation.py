"""The escalation sweep: a case at risk or past its deadline goes up one level at a time, exactly once.

Every engine instance runs it. Each level is one optimistic transaction on the case (`Complaints.transact`),
so when two instances find the same case due, one writes the level and the other's write is refused.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from redis.exceptions import WatchError

from handoff.complaints.cases import Complaints, Plan
from handoff.complaints.models import LEVELS, OPEN_STATUSES, Case, Change, Policy, Status

log = logging.getLogger(__name__)

SWEEP_BATCH = 200


def plan_escalation(
    policy: Policy, case: Case, now: float, actor: str = "system", early: bool = False
) -> Plan | None:
    """Return the case's next escalation step when it is due at ``now`` (or ``early``), else None."""
    if not _escalates(case) or (case.escalate_at[case.level] > now and not early):
        return None
    level = LEVELS[case.level]
    escalated = replace(case, level=case.level + 1)
    supervisor = policy.supervisors.get(case.team, "")
    # Details name who was told or who took it; the console words them in the reader's language.
    if level == "at_risk":
        notify = detail = case.owner or case.team
    elif level == "overdue":
        notify = detail = supervisor or case.team
    else:
        team = case.team if supervisor or not policy.escalation_team else policy.escalation_team
        escalated = replace(escalated, owner=supervisor, team=team)
        notify = supervisor or team
        detail = f"{case.owner or case.team} → {supervisor or team}"
    event = {
        "event": "escalated",
        "level": level,
        "case": case.id,
        "team": escalated.team,
        "owner": escalated.owner,
        "notify": notify,
    }
    return Plan(escalated, Change(now, actor, f"escalated:{level}", detail), [event])


async def escalate_due(cases: Complaints, now: float | None = None, batch: int = SWEEP_BATCH) -> int:
    """Escalate every case whose next level is due (at most ``batch``); return how many levels this did."""
    moment = cases.clock() if now is None else now
    due = await cases.redis.zrangebyscore(cases.keys.escalate, "-inf", moment, start=0, num=batch)
    done = 0
    for case_id in due:
        try:
            before, after = await cases.transact(case_id, lambda c: plan_escalation(cases.policy, c, moment))
        except WatchError:
            continue  # another instance took this level
        except KeyError:
            await cases.redis.zrem(cases.keys.escalate, case_id)
            continue
        if after.level > before.level:
            done += 1
            log.info("complaint escalated", extra={"case": case_id, "level": LEVELS[before.level]})
        elif not _escalates(after):
            await cases.redis.zrem(cases.keys.escalate, case_id)  # a stale entry: nothing left to escalate
        elif after.escalate_at[after.level] > moment:
            await cases.redis.zadd(cases.keys.escalate, {case_id: after.escalate_at[after.level]})
    return done


def _escalates(case: Case) -> bool:
    """Whether the case has a level left to escalate to and a running clock."""
    running = case.status in OPEN_STATUSES and case.status is not Status.RESOLVED
    return running and case.level < min(len(LEVELS), len(case.escalate_at))


async def escalate_now(cases: Complaints, case_id: str, actor: str) -> Case | None:
    """Escalate a case one level at once (a supervisor's or owner's call); None when none is left."""
    now = cases.clock()
    before, after = await cases.transact(
        case_id, lambda c: plan_escalation(cases.policy, c, now, actor, early=True)
    )
    return after if after.level > before.level else None
