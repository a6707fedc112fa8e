"""Reading the service events' roll-ups: days, cubes, hourly counts and the events themselves."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from core.keys.families import ReportKeys
from core.redis import AsyncRedis
from reports.model import Event


class RollupReads:
    """The read side of `reports.events.ServiceEvents` (its ``redis`` and ``keys``)."""

    redis: AsyncRedis
    keys: ReportKeys

    async def events(self, count: int = 10_000) -> list[Event]:
        """Return the newest ``count`` events, oldest first (tests and the rebuild)."""
        entries = await self.redis.xrevrange(self.keys.stream, count=count)
        return [Event.from_json(fields["e"]) for _, fields in reversed(entries)]

    async def between(self, start: float, end: float, batch: int = 5000) -> list[Event]:
        """Return the events that happened from ``start`` to ``end`` (epoch seconds), oldest first.

        The stream's ids are the server's clock when each was recorded: a day's margin either side
        covers a late report, and each event's own time decides.
        """
        found: list[Event] = []
        low, high = f"{int((start - 86400) * 1000)}-0", f"{int((end + 86400) * 1000)}-0"
        while True:
            entries = await self.redis.xrange(self.keys.stream, min=low, max=high, count=batch)
            found.extend(e for e in (Event.from_json(f["e"]) for _, f in entries) if start <= e.at <= end)
            if len(entries) < batch:
                return sorted(found, key=lambda e: e.at)
            low = "(" + entries[-1][0]

    async def days(self, first: dt.date, last: dt.date) -> list[dict[str, str]]:
        """Return the day roll-ups from ``first`` to ``last`` (inclusive), one hash per day."""
        names = [(first + dt.timedelta(days=i)).strftime("%Y%m%d") for i in range((last - first).days + 1)]
        async with self.redis.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.hgetall(self.keys.day(name))
            return list(await pipe.execute())

    async def cubes(self, first: dt.date, last: dt.date) -> list[dict[str, str]]:
        """Return the cubes covering ``first`` to ``last``: whole ISO weeks inside it, days at its edges.

        A cube's size is bounded by the combinations of dimensions, not by time, so a week costs what a
        day costs: a 30-day range reads about ten hashes instead of thirty.
        """
        names, day = [], first
        while day <= last:
            monday = day - dt.timedelta(days=day.weekday())
            if day == monday and monday + dt.timedelta(days=6) <= last:
                year, week, _ = day.isocalendar()
                names.append(f"{year}-W{week:02d}")
                day += dt.timedelta(days=7)
            else:
                names.append(day.strftime("%Y%m%d"))
                day += dt.timedelta(days=1)
        async with self.redis.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.hgetall(self.keys.cube(name))
            return list(await pipe.execute())

    async def day_cubes(self, days: Iterable[dt.date]) -> list[dict[str, str]]:
        """Return one cube per day named (the trends)."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for day in days:
                pipe.hgetall(self.keys.cube(day.strftime("%Y%m%d")))
            return list(await pipe.execute())

    async def heat(self, first: dt.date, last: dt.date, kind: str) -> list[list[int]]:
        """Return how many ``kind`` events fell in each weekday (Monday first) × local hour of the period."""
        days = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
        async with self.redis.pipeline(transaction=False) as pipe:
            for day in days:
                pipe.hgetall(self.keys.hourly(day.strftime("%Y%m%d")))
            hashes = await pipe.execute()
        grid = [[0] * 24 for _ in range(7)]
        for day, counts in zip(days, hashes, strict=True):
            for name, raw in counts.items():
                counted, _, hour = name.rpartition("|")
                if counted == kind:
                    grid[day.weekday()][int(hour)] += int(raw)
        return grid

    async def hours(self, names: Iterable[str]) -> list[dict[str, str]]:
        """Return the hour roll-ups named (``YYYYMMDDHH``, UTC)."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.hgetall(self.keys.hour(name))
            return list(await pipe.execute())
