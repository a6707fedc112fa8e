"""Business hours: weekly hours in the team's zone, holidays, 调休 working days, clear errors."""

from __future__ import annotations

import datetime as dt

import pytest

from handoff.hours import Schedule, ScheduleError

WEEKDAYS_9_TO_6 = {d: ["09:00-18:00"] for d in ("mon", "tue", "wed", "thu", "fri")}
SHANGHAI = dt.timezone(dt.timedelta(hours=8))


def at(text: str) -> dt.datetime:
    """A moment given in Shanghai's local time."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


@pytest.fixture
def national_day() -> Schedule:
    # 2026-10-01..07 off; Saturday 2026-10-10 is a working day (调休), with short hours.
    return Schedule.parse(
        {
            "timezone": "Asia/Shanghai",
            "weekly": {**WEEKDAYS_9_TO_6, "sat": [], "sun": []},
            "holidays": [f"2026-10-0{d}" for d in range(1, 8)],
            "special": {"2026-10-10": ["10:00-16:00"]},
        }
    )


def test_open_on_weekdays_in_the_teams_own_time_zone(national_day: Schedule) -> None:
    assert national_day.is_open(at("2026-11-23T09:00"))  # a Monday
    assert not national_day.is_open(at("2026-11-23T08:59"))
    assert not national_day.is_open(at("2026-11-23T18:00"))  # the end is exclusive
    # 01:30 UTC is 09:30 in Shanghai.
    assert national_day.is_open(dt.datetime(2026, 11, 23, 1, 30, tzinfo=dt.timezone.utc))
    assert not national_day.is_open(at("2026-11-28T12:00"))  # Saturday


def test_holidays_close_and_special_days_open(national_day: Schedule) -> None:
    assert not national_day.is_open(at("2026-10-05T10:00"))  # a Monday in the holiday
    assert national_day.next_open(at("2026-10-05T10:00")) == at("2026-10-08T09:00")
    assert national_day.is_open(at("2026-10-10T11:00"))  # the Saturday made a working day
    assert not national_day.is_open(at("2026-10-10T16:30"))
    assert national_day.next_open(at("2026-10-10T16:30")) == at("2026-10-12T09:00")
    assert national_day.next_open(at("2026-11-23T07:00")) == at("2026-11-23T09:00")


def test_until_midnight_and_never_open() -> None:
    late = Schedule.parse({"weekly": {"mon": ["20:00-24:00"]}})
    assert late.is_open(at("2026-11-23T23:59"))
    assert not late.is_open(at("2026-11-24T00:00"))
    assert Schedule.parse({"weekly": {}}).next_open(at("2026-11-23T10:00")) is None


def test_open_seconds_count_only_opening_hours(national_day: Schedule) -> None:
    # Friday 17:00 to Monday 10:00: one hour on Friday, one on Monday, nothing at the weekend.
    assert national_day.open_seconds(at("2026-11-27T17:00"), at("2026-11-30T10:00")) == 2 * 3600
    # Inside one opening stretch it is the plain clock.
    assert national_day.open_seconds(at("2026-11-23T10:00"), at("2026-11-23T10:05")) == 300
    # Over the National Day week: 30 min on 09-30, nothing 10-01..07, 9 h each on Thursday 10-08 and
    # Friday 10-09, the 调休 Saturday's six hours, nothing on Sunday, 30 min on Monday 10-12.
    assert national_day.open_seconds(at("2026-09-30T17:30"), at("2026-10-12T09:30")) == 25 * 3600
    assert national_day.open_seconds(at("2026-10-03T10:00"), at("2026-10-03T11:00")) == 0


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "a JSON object"),
        ({"timezone": "Mars/Olympus"}, "unknown time zone"),
        ({"weekly": {"monday": []}}, "weekly: an object with days"),
        ({"weekly": {"mon": ["9-18"]}}, 'is not "HH:MM-HH:MM"'),
        ({"weekly": {"mon": ["18:00-09:00"]}}, "ends before it starts"),
        ({"holidays": ["2026-13-01"]}, "is not a date"),
        ({"special": {"2026-10-10": "10:00-16:00"}}, "give a list"),
        ({"open": True}, "unknown fields: open"),
    ],
)
def test_bad_schedules_are_refused_clearly(data: object, message: str) -> None:
    with pytest.raises(ScheduleError, match=message):
        Schedule.parse(data)
