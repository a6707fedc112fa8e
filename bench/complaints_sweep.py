"""Complaint cases at scale: the escalation sweep's cost per run and the case lists' query time (p50/p99).

    .venv/bin/python -m bench.complaints_sweep [--cases 100000] [--runs 200]

Uses REDIS_URL when set, otherwise an embedded Redis; keys live under a random prefix and are deleted.
Opens ``--cases`` cases through `Complaints.open` (the real script, spread over 10 teams, 3 severities
and 5 categories, opened over the past 8 hours), then on an injected clock:

* **sweep, idle**: one `escalate_due` run when nothing is due (what every instance does every 5 s);
* **sweep, busy**: one run while 1 % of the cases fall due per step of the clock (each run escalates up
  to its batch of 200), so the figure includes the writes;
* **lists**: a supervisor's default list (500 nearest deadlines, every team), an agent's (two teams), the
  supervisor's overdue filter, and a rare filter (one category and severity of one team's cases).

Baseline in the same run: a plain ``ZRANGE`` + ``MGET`` of 500 cases, the floor of any list query.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

from core.redis import AsyncRedis, EmbeddedRedis, async_client, close_async
from handoff.complaints import Complaints, Policy, escalate_due

TEAMS = [f"team{i}" for i in range(10)]
HOUR = 3600.0


class Clock:
    """The bench's time, moved by hand."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        """Return the bench's now."""
        return self.now


def _pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def _timed(call: Callable[[], Awaitable[object]], runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        await call()
        samples.append(time.perf_counter() - started)
    return samples


async def _open_all(cases: Complaints, clock: Clock, count: int, start: float) -> None:
    policy = cases.policy
    batch = []
    for i in range(count):
        # Opened evenly over the past 8 hours: some are near their 4-hour 紧急 deadline already.
        clock.now = start - 8 * HOUR + 8 * HOUR * i / count
        severity = policy.severities[i % len(policy.severities)]
        # Independent of the team and severity cycles, so every combination occurs.
        category = policy.categories[(i // 7) % len(policy.categories)]
        batch.append(
            cases.open(
                f"p{i}",
                f"rest:c{i}",
                "快递破损，要求退款",
                channel="rest",
                team=TEAMS[i % len(TEAMS)],
                actor="bench",
                severity=severity,
                category=category,
            )
        )
        if len(batch) == 200:
            await asyncio.gather(*batch)
            batch = []
    await asyncio.gather(*batch)
    clock.now = start


def _line(name: str, samples: list[float], note: str = "") -> None:
    p50, p99 = _pct(samples, 0.5), _pct(samples, 0.99)
    print(f"{name:<44} p50 {p50:7.2f} ms   p99 {p99:7.2f} ms   runs {len(samples):4d}  {note}")


async def measure(url: str, count: int, runs: int) -> None:
    """Open ``count`` cases, then time sweeps and list queries; print the figures."""
    client: AsyncRedis = async_client(url)
    prefix = "bench" + uuid.uuid4().hex[:8]
    start = time.time()
    clock = Clock(start)
    # Deadlines on the plain clock: the bench measures Redis work, not a calendar's arithmetic.
    cases = Complaints(client, prefix, Policy(business_hours=False), clock)
    try:
        began = time.perf_counter()
        await _open_all(cases, clock, count, start)
        opened = time.perf_counter() - began
        print(f"opened {count} cases in {opened:.1f} s ({count / opened:.0f}/s through Complaints.open)")
        # Catch up first: everything already due at the start escalates before the idle figure.
        while await escalate_due(cases):
            pass
        _line("sweep, idle (nothing due)", await _timed(lambda: escalate_due(cases), runs))
        levels: list[int] = []

        async def busy() -> None:
            clock.now += 8 * HOUR / 100  # 1 % of the cases' opening times per step
            levels.append(await escalate_due(cases))

        samples = await _timed(busy, runs)
        _line(
            "sweep, busy (1 % falls due per run)",
            samples,
            f"levels written/run: mean {statistics.mean(levels):.0f}",
        )
        keys = cases.keys

        async def floor() -> None:
            ids = await client.zrange(keys.due, 0, 499)
            await client.mget([keys.case(i) for i in ids])

        _line("baseline: ZRANGE + MGET of 500 cases", await _timed(floor, runs))
        _line("supervisor: 500 nearest, every team", await _timed(lambda: cases.unfinished(500), runs))
        _line(
            "agent: 500 nearest of two teams",
            await _timed(lambda: cases.unfinished(500, teams=TEAMS[:2]), runs),
        )
        _line(
            "supervisor: overdue only",
            await _timed(lambda: cases.unfinished(500, due_before=clock.now), runs),
        )

        def rare(case: object) -> bool:
            return getattr(case, "severity", "") == "紧急" and getattr(case, "category", "") == "退款"

        rare_runs = max(5, runs // 20)
        found = await cases.unfinished(500, teams=TEAMS[:1], keep=rare)
        _line(
            "agent: one team, 紧急 × 退款 (scans the team)",
            await _timed(lambda: cases.unfinished(500, teams=TEAMS[:1], keep=rare), rare_runs),
            f"matches {len(found)}",
        )
    finally:
        async for key in client.scan_iter(match=f"{prefix}*", count=1000):
            await client.delete(key)
        await close_async(client)


def main() -> None:
    """Run the bench on REDIS_URL or an embedded Redis."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    url = os.environ.get("REDIS_URL")
    if url:
        asyncio.run(measure(url, args.cases, args.runs))
        return
    with tempfile.TemporaryDirectory() as tmp, EmbeddedRedis(Path(tmp)) as embedded:
        asyncio.run(measure(embedded, args.cases, args.runs))


if __name__ == "__main__":
    main()
