"""Service events: every step of a conversation recorded once, and rolled up by hour and day.

An event has a kind, a time, its conversation and the dimensions reports slice by (channel, team, agent,
tier) plus one detail (a band, a reason, a score) and, for timed kinds, a value in seconds (or the score).
`ServiceEvents.record` is one script: it drops an event whose idempotency key it has seen (a retried
webhook, a second instance), appends it to the events stream, and adds it to the hour and day roll-ups,
so reports read a few hashes and never scan events. `rebuild` recomputes the roll-ups from the stream.

Roll-up hashes hold, per ``kind|channel|team|agent|tier|detail``: ``#n`` (count), ``#s`` (sum of values)
and ``#b<i>`` (how many values fell in bucket i of `BUCKETS`, for percentiles): every combination, for
any filter. The cubes (per day and per ISO week) hold the same stats per ``kind|detail|dimension=value``,
each event once per dimension it has and once for all: the reports of one filter (or none) read them.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from redis.exceptions import NoScriptError

from core.keys import Keys
from core.redis import AsyncRedis
from reports.model import BUCKETS, Event, Kind, bucket_of
from reports.reads import RollupReads

DEFAULT_RETENTION_DAYS = 90
# While Redis is away every event fails alike: log the first, then one in this many.
LOST_LOG_EVERY = 1000
MAX_ACTIVE_REMEMBERED = 100_000

log = logging.getLogger(__name__)


@dataclass
class _Batch:
    """The steps observed during one customer message's turn, while `ServiceEvents.deferring` is on."""

    events: list[Event] = field(default_factory=list)
    open: bool = True


_DEFERRED: ContextVar[_Batch | None] = ContextVar("deferred_service_events", default=None)

# Records a batch of events that share their hour, day and week: KEYS are the stream, the hour and day
# roll-ups, the day's and the week's cube, the day's per-hour counts, then each event's "seen" marker.
# ARGV: marker ttl, the stream's oldest id (ms), roll-up ttl, the number of events, then per event: its
# JSON, roll-up field, value ('' for none), value bucket, per-hour field, cube prefix, the number of cube
# fields and those fields (without the prefix). Returns 1 per event recorded, 0 per event seen already.
_RECORD = """
local function add(key, field, value, bucket)
  redis.call('HINCRBY', key, field .. '#n', 1)
  if value ~= '' then
    redis.call('HINCRBYFLOAT', key, field .. '#s', value)
    redis.call('HINCRBY', key, field .. '#b' .. bucket, 1)
  end
end
local done, pos = {}, 5
for i = 1, tonumber(ARGV[4]) do
  local value, bucket, prefix = ARGV[pos + 2], ARGV[pos + 3], ARGV[pos + 5]
  local first, last = pos + 7, pos + 6 + tonumber(ARGV[pos + 6])
  done[i] = 0
  if redis.call('SET', KEYS[6 + i], '1', 'NX', 'EX', ARGV[1]) then
    redis.call('XADD', KEYS[1], 'MINID', '~', ARGV[2], '*', 'e', ARGV[pos])
    add(KEYS[2], ARGV[pos + 1], value, bucket)
    add(KEYS[3], ARGV[pos + 1], value, bucket)
    -- The cubes: the event once per dimension it has (and once for "all"), per day and per ISO week.
    for j = first, last do
      add(KEYS[4], prefix .. ARGV[j], value, bucket)
      add(KEYS[5], prefix .. ARGV[j], value, bucket)
    end
    -- The day's counts per local hour (the heat map by hour and weekday).
    redis.call('HINCRBY', KEYS[6], ARGV[pos + 4], 1)
    done[i] = 1
  end
  pos = last + 1
end
for i = 2, 6 do
  redis.call('EXPIRE', KEYS[i], ARGV[3])
end
return done
"""
# Redis names scripts by their SHA-1: the pipeline calls the script by it.
_RECORD_SHA = hashlib.sha1(_RECORD.encode()).hexdigest()


class ServiceEvents(RollupReads):
    """Record events once and keep their hour and day roll-ups, under one key prefix."""

    def __init__(
        self,
        client: AsyncRedis,
        prefix: str,
        *,
        timezone: str = "Asia/Shanghai",
        retention_days: int = DEFAULT_RETENTION_DAYS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Days are the reports' days in ``timezone``; events and roll-ups live ``retention_days``."""
        self.redis = client
        self.keys = Keys(prefix).reports
        self.zone = ZoneInfo(timezone)
        self.retention_seconds = retention_days * 24 * 3600
        self.clock = clock
        self._record = client.register_script(_RECORD)
        self.lost = 0
        # Conversation → when this instance last marked it active (saves the activity check's round trip).
        self._active_here: dict[str, float] = {}

    def hour_of(self, at: float) -> str:
        """Return the hour bucket name of a moment (UTC, so no hour is ambiguous)."""
        return dt.datetime.fromtimestamp(at, dt.timezone.utc).strftime("%Y%m%d%H")

    def day_of(self, at: float) -> str:
        """Return the report day of a moment, in the reports' time zone."""
        return dt.datetime.fromtimestamp(at, self.zone).strftime("%Y%m%d")

    def hourly_field(self, event: Event) -> str:
        """Return the field an event counts under in its day's per-hour hash: ``kind|HH`` (local hour)."""
        return f"{event.kind.value}|{dt.datetime.fromtimestamp(event.at, self.zone).hour:02d}"

    def week_of(self, at: float) -> str:
        """Return the report week (ISO, Monday first) of a moment, as ``YYYY-Www``."""
        year, week, _ = dt.datetime.fromtimestamp(at, self.zone).isocalendar()
        return f"{year}-W{week:02d}"

    def _script_calls(self, events: list[Event]) -> list[tuple[list[str], list[str | int | float]]]:
        """Return the record script's keys and arguments: one call per run of events in the same hour."""
        calls: list[tuple[list[str], list[str | int | float]]] = []
        keys = self.keys
        oldest_ms = max(0, int((self.clock() - self.retention_seconds) * 1000))
        shared: list[str] = []
        for event in events:
            local = dt.datetime.fromtimestamp(event.at, self.zone)  # once: zone conversions cost
            year, week_number, _ = local.isocalendar()
            day = local.strftime("%Y%m%d")
            hour_key = keys.hour(self.hour_of(event.at))
            if not calls or shared[1] != hour_key or shared[2] != keys.day(day):
                week = f"{year}-W{week_number:02d}"
                shared = [
                    keys.stream,
                    hour_key,
                    keys.day(day),
                    keys.cube(day),
                    keys.cube(week),
                    keys.hourly(day),
                ]
                calls.append(([*shared], [self.retention_seconds, oldest_ms, self.retention_seconds, 0]))
            script_keys, args = calls[-1]
            script_keys.append(keys.seen(event.key))
            cube = event.cube_fields()
            value = "" if event.value is None else repr(float(event.value))
            args[3] = int(args[3]) + 1
            args += [event.to_json(), event.field(), value, bucket_of(event.value or 0.0)]
            args += [f"{event.kind.value}|{local.hour:02d}", cube[0], len(cube)]
            args += [name.removeprefix(cube[0]) for name in cube]
        return calls

    async def record(self, event: Event) -> bool:
        """Record an event once; False when its key was seen already."""
        (script_keys, args), *_ = self._script_calls([event])
        return bool((await self._record(keys=script_keys, args=args))[0])

    async def record_all(self, events: list[Event]) -> list[bool]:
        """Record several events in one round trip (each once, in order); see `record`."""
        _, done = await self._record_batch(events)
        return done

    async def _record_batch(
        self, events: list[Event], active: tuple[str, float, int] | None = None
    ) -> tuple[str | None, list[bool]]:
        """Record ``events`` in one round trip, after marking ``active`` = (key, now, ttl) if given.

        Returns the active key's previous value and whether each event was new.
        """
        calls = self._script_calls(events)
        async with self.redis.pipeline(transaction=False) as pipe:
            if active is not None:
                key, now, ttl = active
                pipe.set(key, repr(now), ex=ttl, get=True)
            for script_keys, args in calls:
                pipe.evalsha(_RECORD_SHA, len(script_keys), *script_keys, *args)
            results = await pipe.execute(raise_on_error=False)
        previous = results.pop(0) if active is not None else None
        done: list[bool] = []
        for (script_keys, args), result in zip(calls, results, strict=True):
            if isinstance(result, NoScriptError):
                # Redis restarted or was flushed: calling the script object loads it again.
                result = await self._record(keys=script_keys, args=args)
            elif isinstance(result, Exception):
                raise result
            done.extend(bool(x) for x in result)
        if isinstance(previous, Exception):
            raise previous
        return (None if previous is None else str(previous)), done

    async def observe(
        self,
        kind: str,
        conversation_id: str,
        *,
        key: str,
        agent: str = "",
        team: str = "",
        tier: str = "",
        detail: str = "",
        value: float | None = None,
    ) -> None:
        """Record one step now (the `core.ports.Observe` the services are given); never raises.

        The reports must not fail the work they count: a customer's reply already sent, or an agent's
        message already delivered, would be retried and sent twice. A lost event is logged instead.
        """
        with self.never_raising(kind):
            await self._observe(kind, conversation_id, key, agent, team, tier, detail, value)

    @contextlib.contextmanager
    def never_raising(self, kind: str) -> Iterator[None]:
        """Count and log (the first, then one in `LOST_LOG_EVERY`) what failed inside, instead of raising."""
        try:
            yield
        except Exception as exc:  # a cancellation is not an Exception: it still goes through
            self.lost += 1
            if self.lost == 1 or self.lost % LOST_LOG_EVERY == 0:
                extra = {"kind": kind, "lost": self.lost, "error": repr(exc)}
                log.warning("service event not recorded", extra=extra)

    def _event(
        self,
        kind: str,
        conversation_id: str,
        key: str,
        agent: str = "",
        team: str = "",
        tier: str = "",
        detail: str = "",
        value: float | None = None,
    ) -> Event:
        channel = conversation_id.partition(":")[0]
        return Event(
            Kind(kind),
            self.clock(),
            conversation_id,
            f"{kind}:{key}",
            channel,
            team,
            agent,
            tier,
            detail,
            value,
        )

    async def _observe(
        self,
        kind: str,
        conversation_id: str,
        key: str,
        agent: str,
        team: str,
        tier: str,
        detail: str,
        value: float | None,
    ) -> None:
        event = self._event(kind, conversation_id, key, agent, team, tier, detail, value)
        batch = _DEFERRED.get()
        if batch is not None and batch.open:
            batch.events.append(event)  # recorded with the customer's message, in its one round trip
            return
        await self.record(event)

    @contextlib.asynccontextmanager
    async def deferring(self) -> AsyncIterator[None]:
        """Hold the steps observed inside (one customer message's turn) for `customer_message` to record.

        A task started inside and observing after the end records on its own; whatever is still held at
        the end (the turn failed before `customer_message`) is recorded then.
        """
        batch = _Batch()
        token = _DEFERRED.set(batch)
        try:
            yield
        finally:
            batch.open = False
            _DEFERRED.reset(token)
            if batch.events:
                with self.never_raising("deferred"):
                    await self.record_all(batch.events)

    async def customer_message(
        self,
        conversation_id: str,
        message_key: str,
        *,
        customer: str | None = None,
        tier: str = "",
        idle_seconds: float = 1800,
        window_seconds: float = 24 * 3600,
        bot_reply_seconds: float | None = None,
    ) -> None:
        """Record a customer's message, a new conversation when none was active, and the bot's reply.

        A new conversation within ``window_seconds`` of the customer's previous one is also a recontact:
        the previous one did not settle it (containment counts it so). ``customer`` is their profile, so a
        customer back on another channel is a recontact too; without one, the conversation stands for it.
        ``bot_reply_seconds``, when the bot answered, records its reply with the time it took. One round
        trip for a conversation this instance saw active within ``idle_seconds`` (activity only moves
        forward, so it cannot be a new one), two otherwise (the activity check, then every event at once).
        Never raises (see `observe`).
        """
        with self.never_raising("customer_message"):
            await self._message(
                conversation_id,
                message_key,
                customer or conversation_id,
                tier,
                (idle_seconds, window_seconds),
                bot_reply_seconds,
            )

    async def _message(
        self,
        conversation_id: str,
        message_key: str,
        customer: str,
        tier: str,
        windows: tuple[float, float],
        bot_reply_seconds: float | None,
    ) -> None:
        idle_seconds, window_seconds = windows
        now = self.clock()
        events = [self._event("customer_message", conversation_id, message_key, tier=tier)]
        batch = _DEFERRED.get()
        if batch is not None and batch.open:
            events.extend(batch.events)
            batch.events = []
        if bot_reply_seconds is not None:
            reply = self._event("bot_reply", conversation_id, message_key, value=bot_reply_seconds)
            events.append(reply)
        seen = self._active_here.get(conversation_id)
        if len(self._active_here) >= MAX_ACTIVE_REMEMBERED:
            self._active_here.clear()  # a cold start costs one more round trip per conversation, once
        self._active_here[conversation_id] = now
        if seen is not None and now - seen <= idle_seconds:
            # This instance saw it active within the idle time, so it is not a new conversation: mark it
            # active for every instance and record its events in one round trip.
            await self._record_batch(events, (self.keys.active(conversation_id), now, int(idle_seconds) * 4))
            return
        if await self.session(conversation_id, idle_seconds):
            # The previous opening's time (on the clock given, so tests need not wait for TTLs).
            previous = await self.redis.set(
                self.keys.recent(customer), repr(now), ex=int(window_seconds), get=True
            )
            opening: list[Event] = []
            if previous is not None and now - float(previous) <= window_seconds:
                opening.append(self._event("recontact", conversation_id, message_key, tier=tier))
            opening.append(self._event("opened", conversation_id, message_key, tier=tier))
            events = opening + events
        await self.record_all(events)

    async def mark_closed(self, customer: str, window_seconds: float = 24 * 3600) -> None:
        """Remember for ``window_seconds`` that an agent closed the customer's conversation. Never raises."""
        with self.never_raising("closed mark"):
            await self.redis.set(
                self.keys.closed_recently(customer), repr(self.clock()), ex=int(window_seconds)
            )

    async def closed_recently(self, customer: str, window_seconds: float = 24 * 3600) -> bool:
        """Whether an agent closed the customer's conversation within the window (False if unknown)."""
        with self.never_raising("closed mark"):
            closed = await self.redis.get(self.keys.closed_recently(customer))
            return closed is not None and self.clock() - float(closed) <= window_seconds
        return False

    async def session(self, conversation: str, idle_seconds: float) -> bool:
        """Mark the conversation active now; True when it had been idle ``idle_seconds`` (a new one)."""
        now = self.clock()
        last = await self.redis.set(
            self.keys.active(conversation), repr(now), ex=int(idle_seconds) * 4, get=True
        )
        return last is None or now - float(last) > idle_seconds


__all__ = ["BUCKETS", "Event", "Kind", "ServiceEvents", "bucket_of"]
