"""Read a public-holiday list as supervisors get it: the State Council's yearly notice, or holiday-cn JSON.

The notice (国务院办公厅关于YYYY年部分节假日安排的通知) lists each holiday as one numbered line::

    二、春节：1月28日（农历除夕、周二）至2月4日（农历正月初七、周二）放假调休，共8天。1月26日（周日）、2月8日（周六）上班。

Days off come from the sentence that says 放假; the days named in a sentence that ends 上班 are the
调休 working days (often a weekend), which a team works with its weekday hours. The notice may be pasted
as text or saved as the web page (tags are dropped); full-width and ASCII punctuation both read.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import re
import unicodedata
from dataclasses import dataclass

# One holiday's line: a Chinese ordinal, the holiday's name, then what happens.
_LINE = re.compile(r"^[一二三四五六七八九十]+、\s*([^:]{1,20}):(.+)$")
_DATE = re.compile(r"(?:(\d{4})年)?(?:(\d{1,2})月)?(\d{1,2})日")
_YEAR = re.compile(r"关于(\d{4})年部分节假日安排")
_BLOCK_TAG = re.compile(r"<(?:p|br|div|li|tr|h\d)\b[^>]*>|</(?:p|div|li|tr|h\d)>", re.I)
_TAG = re.compile(r"<[^>]*>")
_ASIDE = re.compile(r"\([^)]*\)")
_MAX_DAYS = 40  # a holiday's range longer than this is a misreading, not a holiday


class NoticeError(ValueError):
    """A file that is not a holiday list this module reads; the message says why."""


@dataclass(frozen=True)
class HolidayDay:
    """One date of the list: a day off (``off``) or a 调休 working day, with its holiday's name."""

    date: dt.date
    name: str
    off: bool


def _day(year: int, month: int, day: int, where: str) -> dt.date:
    try:
        return dt.date(year, month, day)
    except ValueError:
        raise NoticeError(f"{where}: {year}-{month}-{day} is not a date") from None


def _dates(sentence: str, year: int, where: str) -> list[dt.date]:
    """Every date a sentence names; a date without a month or year takes the one before it."""
    found: list[dt.date] = []
    month = 0
    for y, m, d in _DATE.findall(sentence):
        year, month = int(y or year), int(m or month)
        if not month:
            raise NoticeError(f"{where}: a date without a month")
        found.append(_day(year, month, int(d), where))
    return found


def _holiday(name: str, rest: str, year: int) -> list[HolidayDay]:
    days: list[HolidayDay] = []
    for sentence in _ASIDE.sub("", rest).split("。"):
        if "上班" in sentence:
            days += [HolidayDay(d, name, False) for d in _dates(sentence, year, name)]
        elif "放假" in sentence:
            dates = _dates(sentence.split("放假")[0], year, name)
            if not dates:
                continue
            first, last = dates[0], dates[1] if "至" in sentence and len(dates) > 1 else dates[0]
            if last < first:  # "12月31日至1月1日": the range runs into the next year
                last = last.replace(year=last.year + 1)
            if (last - first).days >= _MAX_DAYS:
                raise NoticeError(f"{name}: {first} to {last} is too long for a holiday")
            days += [HolidayDay(first + dt.timedelta(n), name, True) for n in range((last - first).days + 1)]
    return days


def read_notice(text: str, year: int | None = None) -> list[HolidayDay]:
    """Return the days of a State Council notice; ``year`` when the text lacks the notice's title."""
    plain = unicodedata.normalize("NFKC", html.unescape(_TAG.sub("", _BLOCK_TAG.sub("\n", text))))
    if year is None:
        title = _YEAR.search(plain.replace("\n", ""))
        if title is None:
            raise NoticeError("no year: the notice's title (关于YYYY年部分节假日安排的通知) is missing")
        year = int(title.group(1))
    days: list[HolidayDay] = []
    for line in plain.splitlines():
        match = _LINE.match(line.strip())
        if match and ("放假" in match.group(2) or "上班" in match.group(2)):
            days += _holiday(match.group(1).strip(), match.group(2), year)
    if not days:
        raise NoticeError("no holidays found: each should be a line like 一、元旦：1月1日放假")
    return days


def read_holiday_cn(data: object) -> list[HolidayDay]:
    """Return the days of a holiday-cn JSON file (``{"days": [{"name", "date", "isOffDay"}]}``)."""
    rows = data.get("days") if isinstance(data, dict) else None
    if not isinstance(rows, list):
        raise NoticeError('not holiday-cn JSON: it needs a "days" list')
    days = []
    for row in rows:
        if not isinstance(row, dict) or not isinstance(row.get("isOffDay"), bool):
            raise NoticeError(f"not a holiday-cn day: {str(row)[:80]}")
        try:
            date = dt.date.fromisoformat(str(row.get("date")))
        except ValueError:
            raise NoticeError(f"not a date: {str(row.get('date'))[:40]}") from None
        days.append(HolidayDay(date, str(row.get("name") or "")[:40], row["isOffDay"]))
    return days


def read_holidays(raw: bytes, year: int | None = None) -> list[HolidayDay]:
    """Read an uploaded holiday list: holiday-cn JSON, else the notice as text or a web page (UTF-8)."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise NoticeError("the file is not UTF-8 text") from None
    if text.lstrip().startswith("{"):
        try:
            days = read_holiday_cn(json.loads(text))
        except json.JSONDecodeError as exc:
            raise NoticeError(f"not JSON: {exc.msg} at line {exc.lineno}") from None
    else:
        days = read_notice(text, year)
    return sorted(days, key=lambda d: d.date)
