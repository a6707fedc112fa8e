"""Business hours and holiday calendars per team, in each team's own time zone.

A schedule is JSON a supervisor edits::

    {"timezone": "Asia/Shanghai",
     "weekly": {"mon": ["09:00-18:00"], ..., "sat": [], "sun": []},
     "holidays": {"2026-10-01": "国庆节", "2026-10-02": "国庆节"},
     "special": {"2026-10-11": ["09:00-18:00"]}}

``special`` days (调休 working weekends, short days) replace the weekly hours of that date; holidays are
closed all day, and carry the holiday's name (a plain list of dates is read too). A team without a
schedule is always open.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from core.keys import Keys
from core.redis import AsyncRedis

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_RANGE = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")
_LOOKAHEAD_DAYS = 60
_MAX_NAME = 40


class ScheduleError(ValueError):
    """A schedule that cannot be saved; the message says what is wrong."""


Range = tuple[dt.time, dt.time | None]  # None: until midnight ("24:00")


def _ranges(raw: object, where: str) -> tuple[Range, ...]:
    if not isinstance(raw, list):
        raise ScheduleError(f'{where}: give a list of "HH:MM-HH:MM" ranges')
    ranges = []
    for item in raw:
        match = _RANGE.match(str(item)) if isinstance(item, str) else None
        if match is None:
            raise ScheduleError(f'{where}: {item!r} is not "HH:MM-HH:MM"')
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if h2 == 24 and m2:
            raise ScheduleError(f"{where}: {item!r} ends after 24:00")
        start, end = dt.time(h1, m1), None if h2 == 24 else dt.time(h2, m2)
        if end is not None and end <= start:
            raise ScheduleError(f"{where}: {item!r} ends before it starts")
        ranges.append((start, end))
    return tuple(sorted(ranges))


def _holidays(raw: object) -> dict[dt.date, str]:
    """Holidays as {date: name}; a list of dates (the older form) gives each an empty name."""
    if isinstance(raw, list):
        raw = {d: "" for d in raw}
    if not isinstance(raw, dict):
        raise ScheduleError("holidays: an object of date → name")
    named = {}
    for day, name in raw.items():
        if not isinstance(name, str) or len(name) > _MAX_NAME:
            raise ScheduleError(f"holidays.{day}: a name of at most {_MAX_NAME} characters")
        named[_date(day, "holidays")] = name.strip()
    return named


def _date(raw: object, where: str) -> dt.date:
    try:
        return dt.date.fromisoformat(str(raw))
    except ValueError:
        raise ScheduleError(f"{where}: {raw!r} is not a date (YYYY-MM-DD)") from None


@dataclass(frozen=True)
class Schedule:
    """One team's opening hours."""

    timezone: str = "Asia/Shanghai"
    weekly: Mapping[str, tuple[Range, ...]] = field(default_factory=dict)
    holidays: Mapping[dt.date, str] = field(default_factory=dict)
    special: Mapping[dt.date, tuple[Range, ...]] = field(default_factory=dict)
    source: Mapping[str, object] = field(default_factory=dict)

    @classmethod
    def parse(cls, data: object) -> Schedule:
        """Validate a schedule's JSON; raise ScheduleError naming the first problem."""
        if not isinstance(data, dict):
            raise ScheduleError("a schedule is a JSON object")
        unknown = set(data) - {"timezone", "weekly", "holidays", "special"}
        if unknown:
            raise ScheduleError(f"unknown fields: {', '.join(sorted(unknown))}")
        timezone = str(data.get("timezone") or "Asia/Shanghai")
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ScheduleError(f"unknown time zone {timezone!r}") from None
        weekly_raw = data.get("weekly") or {}
        if not isinstance(weekly_raw, dict) or set(weekly_raw) - set(DAYS):
            raise ScheduleError(f"weekly: an object with days {', '.join(DAYS)}")
        weekly = {day: _ranges(weekly_raw.get(day, []), f"weekly.{day}") for day in DAYS}
        holidays = _holidays(data.get("holidays") or {})
        special_raw = data.get("special") or {}
        if not isinstance(special_raw, dict):
            raise ScheduleError("special: an object of date → ranges")
        special = {_date(d, "special"): _ranges(r, f"special.{d}") for d, r in special_raw.items()}
        return cls(timezone, weekly, holidays, special, dict(data))

    def _day(self, day: dt.date) -> tuple[Range, ...]:
        if day in self.special:
            return self.special[day]
        if day in self.holidays:
            return ()
        return self.weekly.get(DAYS[day.weekday()], ())

    def is_open(self, when: dt.datetime) -> bool:
        """Whether the team is open at ``when`` (an aware datetime)."""
        local = when.astimezone(ZoneInfo(self.timezone))
        now = local.time().replace(tzinfo=None)
        return any(start <= now and (end is None or now < end) for start, end in self._day(local.date()))

    def next_open(self, when: dt.datetime) -> dt.datetime | None:
        """Return when the team next opens after ``when`` (local time), or None within 60 days."""
        zone = ZoneInfo(self.timezone)
        local = when.astimezone(zone)
        for offset in range(_LOOKAHEAD_DAYS):
            day = local.date() + dt.timedelta(days=offset)
            for start, _end in self._day(day):
                opening = dt.datetime.combine(day, start, zone)
                if opening > local:
                    return opening
        return None

    def _stretches(self, day: dt.date, zone: ZoneInfo) -> Iterator[tuple[dt.datetime, dt.datetime]]:
        """Yield the day's opening stretches as (opens, closes) in ``zone``."""
        for begin, end in self._day(day):
            closes = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), zone)
            if end is not None:
                closes = dt.datetime.combine(day, end, zone)
            yield dt.datetime.combine(day, begin, zone), closes

    def open_seconds(self, start: dt.datetime, end: dt.datetime) -> float:
        """Return how many seconds between ``start`` and ``end`` fall within opening hours."""
        zone = ZoneInfo(self.timezone)
        first, last = start.astimezone(zone), end.astimezone(zone)
        total, day = 0.0, first.date()
        while day <= last.date():
            for opens, closes in self._stretches(day, zone):
                total += max(0.0, (min(closes, last) - max(opens, first)).total_seconds())
            day += dt.timedelta(days=1)
        return total

    def after_open(self, start: dt.datetime, seconds: float) -> dt.datetime:
        """Return the moment ``seconds`` of opening time have passed after ``start`` (deadlines).

        Without opening hours within the look-ahead the plain clock is used, so a deadline always exists.
        """
        zone = ZoneInfo(self.timezone)
        cursor = start.astimezone(zone)
        left = dt.timedelta(seconds=max(0.0, seconds))
        for offset in range(_LOOKAHEAD_DAYS * 6):
            day = cursor.date() + dt.timedelta(days=offset) if offset else cursor.date()
            for opens, closes in self._stretches(day, zone):
                opens = max(opens, cursor)
                if closes <= opens:
                    continue
                if closes - opens >= left:
                    return opens + left
                left -= closes - opens
        return start + dt.timedelta(seconds=seconds)


class Hours:
    """Every team's schedule, kept in Redis so supervisors change it without a deploy."""

    def __init__(self, client: AsyncRedis, prefix: str) -> None:
        """Use ``client`` for keys under ``prefix``."""
        self._redis = client
        self._key = Keys(prefix).hours

    async def get(self, team: str) -> Schedule | None:
        """Return the team's schedule, or None when it is always open."""
        raw = await self._redis.hget(self._key, team)
        return Schedule.parse(json.loads(raw)) if raw else None

    async def all(self) -> dict[str, Schedule]:
        """Return every team's schedule."""
        rows = await self._redis.hgetall(self._key)
        return {team: Schedule.parse(json.loads(raw)) for team, raw in rows.items()}

    async def set(self, team: str, data: object) -> Schedule:
        """Validate and store a team's schedule (raise ScheduleError when it is wrong)."""
        schedule = Schedule.parse(data)
        await self._redis.hset(self._key, team, json.dumps(schedule.source, ensure_ascii=False))
        return schedule

    async def clear(self, team: str) -> bool:
        """Remove a team's schedule (always open again)."""
        return bool(await self._redis.hdel(self._key, team))

    async def closed(self, team: str, now: dt.datetime | None = None) -> Closed | None:
        """Return None while the team is open; else when it opens next."""
        schedule = await self.get(team)
        moment = now or dt.datetime.now(dt.timezone.utc)
        if schedule is None or schedule.is_open(moment):
            return None
        return Closed(schedule.next_open(moment))


@dataclass(frozen=True)
class Closed:
    """A team outside its hours, and when it opens next (None: not within 60 days)."""

    next_open: dt.datetime | None
