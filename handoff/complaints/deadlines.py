"""When a case must be answered, resolved and escalated: the policy's targets on the team's calendar."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from handoff.complaints.models import Policy
from handoff.hours import Schedule


@dataclass(frozen=True)
class Deadlines:
    """A new case's clock, in epoch seconds."""

    respond_by: float
    resolve_by: float
    escalate_at: tuple[float, ...]


def deadlines(
    policy: Policy, severity: str, category: str, opened_at: float, calendar: Schedule | None
) -> Deadlines:
    """Return the deadlines of a case opened at ``opened_at``; CaseError for an unknown severity or category.

    With business hours on and a team calendar, the targets count opening time only: a 4-hour target set at
    17:00 on a 09:00-18:00 team falls due at 12:00 the next working day.
    """
    targets = policy.targets(severity, category)
    schedule = calendar if policy.business_hours else None
    start = dt.datetime.fromtimestamp(opened_at, dt.timezone.utc)

    def after(minutes: float) -> float:
        if schedule is None:
            return opened_at + minutes * 60
        return schedule.after_open(start, minutes * 60).timestamp()

    resolve = targets.resolve_minutes
    return Deadlines(
        respond_by=after(targets.respond_minutes),
        resolve_by=after(resolve),
        escalate_at=tuple(after(resolve * share) for share in policy.shares),
    )
