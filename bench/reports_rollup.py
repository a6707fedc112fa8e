"""Service events at scale: recording throughput, and a 30-day report query over a million events.

    .venv/bin/python -m bench.reports_rollup [--events 1000000] [--runs 50]

Uses REDIS_URL when set, otherwise an embedded Redis; keys live under a random prefix and are deleted.
Events are a realistic mix over 30 days (4 channels, 10 teams, 50 agents each in one team, 3 tiers): per
conversation an opening, customer messages, bot replies and KB answers, and for a quarter of them a handoff,
an assignment, agent replies, a close and a rating. Each is recorded through `ServiceEvents.record` (the
real script: dedup, stream, hour and day roll-ups), 500 at a time. Then the supervisor's 30-day summary
(read + tally + `summary`), overall and filtered to one team, is timed twice in the same run: from the day
roll-ups of every combination (the baseline: any filter) and from the one-dimension week and day cubes
(what the reports API reads for no filter or one).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import random
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

from core.redis import AsyncRedis, EmbeddedRedis, async_client, close_async
from reports.events import Event, Kind, ServiceEvents
from reports.metrics import Costs, Tally, cube_tallies, summary, tallies

CHANNELS = ("wechat", "telegram", "webchat", "wecom")
TIERS = ("regular", "new", "vip")
BAND = ("answer", "answer", "answer", "suggest", "escalate")


def _conversation(rng: random.Random, n: int, start: float) -> Iterator[Event]:
    """Yield one conversation's events."""
    at = start + rng.random() * 30 * 86400
    channel, tier = rng.choice(CHANNELS), rng.choice(TIERS)
    conv = f"{channel}:c{n}"

    def event(kind: Kind, offset: float, **fields: object) -> Event:
        key = f"{kind.value}:{conv}:{offset}"
        return Event(kind, at + offset, conv, key, channel, tier=tier, **fields)  # type: ignore[arg-type]

    yield event(Kind.OPENED, 0)
    turns = rng.randint(1, 4)
    for t in range(turns):
        yield event(Kind.CUSTOMER_MESSAGE, t * 20)
        yield event(Kind.BOT_REPLY, t * 20 + 0.5, value=rng.uniform(0.05, 0.8))
        yield event(Kind.KB_ANSWER, t * 20 + 0.5, detail=rng.choice(BAND))
    if rng.random() < 0.25:
        agent = rng.randrange(50)
        team, who = f"team{agent % 10}", f"agent{agent}"
        base = turns * 20
        wait = rng.expovariate(1 / 60)
        yield event(
            Kind.HANDOFF, base, team=team, detail=rng.choice(("asked", "asked", "complaint", "kb_misses"))
        )
        yield event(Kind.ASSIGNED, base + wait, team=team, agent=who, value=wait)
        yield event(Kind.AGENT_FIRST_REPLY, base + wait + 20, team=team, agent=who, value=wait + 20)
        for r in range(rng.randint(1, 5)):
            yield event(Kind.AGENT_REPLY, base + wait + 30 + r * 40, team=team, agent=who)
        handled = wait + rng.uniform(120, 1800)
        yield event(Kind.CLOSED, base + handled, team=team, agent=who, detail="agent", value=handled)
        if rng.random() < 0.4:
            score = rng.choice((5, 5, 4, 4, 3, 2, 1))
            yield event(Kind.RATING, base + handled + 5, team=team, agent=who, detail=str(score), value=score)


def _events(total: int, start: float) -> Iterator[Event]:
    rng = random.Random(7)
    made, n = 0, 0
    while made < total:
        for event in _conversation(rng, n, start):
            yield event
            made += 1
            if made == total:
                return
        n += 1


def _pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def measure(url: str, total: int, runs: int) -> None:
    """Record ``total`` events, then time 30-day summaries; print the figures."""
    client: AsyncRedis = async_client(url)
    prefix = "bench" + uuid.uuid4().hex[:8]
    now = time.time()
    start = now - 30 * 86400
    events = ServiceEvents(client, prefix, clock=lambda: now)
    try:
        batch: list[Event] = []
        began = time.perf_counter()
        for event in _events(total, start):
            batch.append(event)
            if len(batch) == 500:
                await asyncio.gather(*(events.record(e) for e in batch))
                batch = []
        await asyncio.gather(*(events.record(e) for e in batch))
        took = time.perf_counter() - began
        print(f"recorded {total} events in {took:.1f} s: {total / took:.0f} events/s (500 in flight)")
        first = dt.datetime.fromtimestamp(start, events.zone).date()
        last = dt.datetime.fromtimestamp(now, events.zone).date()
        days = await events.days(first, last)
        fields = sum(len(d) for d in days)
        print(f"{len(days)} day roll-ups, {fields} fields in all")
        costs = Costs()
        cubes = await events.cubes(first, last)
        print(
            f"{len(cubes)} cubes cover the range (weeks inside, days at edges), {sum(map(len, cubes))} fields"
        )

        def team3(dims: dict[str, str]) -> bool:
            return dims["team"] == "team3"

        Read = Callable[[], Awaitable[list[dict[str, str]]]]
        Tallied = Callable[[list[dict[str, str]]], dict[str, Tally]]
        cases: list[tuple[str, Read, Tallied]] = [
            ("every combination, every team", lambda: events.days(first, last), lambda r: tallies(r)),
            ("every combination, one team", lambda: events.days(first, last), lambda r: tallies(r, team3)),
            ("cubes, every team", lambda: events.cubes(first, last), lambda r: cube_tallies(r)),
            ("cubes, one team", lambda: events.cubes(first, last), lambda r: cube_tallies(r, "team=team3")),
        ]
        for name, read, tally in cases:
            samples = []
            for _ in range(runs):
                t0 = time.perf_counter()
                summary(tally(await read()), costs)
                samples.append(time.perf_counter() - t0)
            print(
                f"{name:<32} p50 {_pct(samples, 0.5):8.1f} ms   p99 {_pct(samples, 0.99):8.1f} ms   n {runs}"
            )
    finally:
        async for key in client.scan_iter(match=f"{prefix}*", count=5000):
            await client.unlink(key)
        await close_async(client)


def main() -> None:
    """Run the bench on REDIS_URL or an embedded Redis."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    url = os.environ.get("REDIS_URL")
    if url:
        asyncio.run(measure(url, args.events, args.runs))
        return
    with tempfile.TemporaryDirectory() as tmp, EmbeddedRedis(Path(tmp)) as embedded:
        asyncio.run(measure(embedded, args.events, args.runs))


if __name__ == "__main__":
    main()
