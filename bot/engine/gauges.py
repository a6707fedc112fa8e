"""What the engine tells ``/metrics``: deployment-wide gauges read at each scrape, and the handoffs."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence

from bot.wiring import Services
from core.state import Owner, Transition
from reports.prometheus import EngineMetrics, GaugeSource, Sample

# Oldest wait is read from the first tickets of each team's queue (priority order, so nearly by age).
OLDEST_OF_FIRST = 50


def gauge_source(services: Services, default_team: str) -> GaugeSource:
    """Return the `GaugeSource` over this deployment's queue, presence and complaint cases."""

    async def read() -> Sequence[Sample]:
        queue, redis = services.queue, services.redis
        agents = await queue.agents()
        teams = await queue.teams() | {team for agent in agents for team in agent.teams} | {default_team}
        now = time.time()
        samples = []
        for team in sorted(teams):
            depth = await redis.zcard(services.keys.queue.team_queue(team))
            first = await queue.waiting(team, OLDEST_OF_FIRST) if depth else []
            oldest = max((now - t.enqueued_ms / 1000 for t in first), default=0.0)
            samples += [
                Sample("cs_queue_waiting", float(depth), {"team": team}),
                Sample("cs_queue_oldest_wait_seconds", round(max(0.0, oldest), 3), {"team": team}),
            ]
            if services.handoff.complaints is not None:
                due = services.keys.complaints.due_in(team)
                open_cases = await redis.zcard(due)
                overdue = await redis.zcount(due, "-inf", now) if open_cases else 0
                samples += [
                    Sample("cs_complaints_open", float(open_cases), {"team": team}),
                    Sample("cs_complaints_overdue", float(overdue), {"team": team}),
                ]
        presence = Counter(agent.status if agent.alive else "offline" for agent in agents)
        samples += [
            Sample("cs_agents", float(presence.get(s, 0)), {"status": s})
            for s in ("online", "paused", "offline")
        ]
        return samples

    return read


def count_transitions(metrics: EngineMetrics) -> Callable[[Transition], Awaitable[None]]:
    """Return a state listener that counts handoffs (to the queue) and closes, by reason."""

    async def count(transition: Transition) -> None:
        if transition.current is Owner.QUEUED and transition.previous is Owner.BOT:
            metrics.handoffs.labels(transition.reason or "unknown").inc()
        elif transition.current is Owner.CLOSED:
            metrics.closes.labels(transition.reason or "unknown").inc()

    return count
