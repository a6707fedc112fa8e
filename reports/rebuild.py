"""Recompute every roll-up from the raw events stream (after a fix to how they are counted)."""

from __future__ import annotations

from redis.asyncio.client import Pipeline

from reports.events import ServiceEvents
from reports.model import Event, bucket_of


async def rebuild(events: ServiceEvents, batch: int = 5000) -> int:
    """Delete the roll-ups and count every stored event into them again; return how many there were."""
    redis, keys = events.redis, events.keys
    async for key in redis.scan_iter(match=keys.rollup_glob, count=1000):
        await redis.delete(key)
    rebuilt, start = 0, "-"
    while True:
        entries = await redis.xrange(keys.stream, min=start, count=batch)
        if not entries:
            return rebuilt
        async with redis.pipeline(transaction=False) as pipe:
            for _, fields in entries:
                _roll(events, pipe, Event.from_json(fields["e"]))
            await pipe.execute()
        rebuilt += len(entries)
        start = "(" + entries[-1][0]


def _roll(events: ServiceEvents, pipe: Pipeline[str], event: Event) -> None:
    keys, ttl = events.keys, events.retention_seconds
    day = events.day_of(event.at)
    plain = (keys.hour(events.hour_of(event.at)), keys.day(day))
    cubes = (keys.cube(day), keys.cube(events.week_of(event.at)))
    for key, fields in [(k, [event.field()]) for k in plain] + [(k, event.cube_fields()) for k in cubes]:
        for name in fields:
            pipe.hincrby(key, name + "#n", 1)
            if event.value is not None:
                pipe.hincrbyfloat(key, name + "#s", float(event.value))
                pipe.hincrby(key, f"{name}#b{bucket_of(event.value)}", 1)
        pipe.expire(key, ttl)
    hourly = keys.hourly(day)
    pipe.hincrby(hourly, events.hourly_field(event), 1)
    pipe.expire(hourly, ttl)
