"""The State Council's holiday notice and holiday-cn JSON, read as the settings page imports them."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from handoff.holiday_notice import HolidayDay, NoticeError, read_holidays

NOTICE_2025 = (Path(__file__).parents[1] / "data" / "holidays" / "2025-notice.txt").read_bytes()


def _off(days: list[HolidayDay]) -> dict[str, str]:
    return {d.date.isoformat(): d.name for d in days if d.off}


def test_the_2025_notice_gives_every_day_off_and_every_working_weekend() -> None:
    days = read_holidays(NOTICE_2025)
    off = _off(days)
    # Read off the notice by hand: 1 + 8 + 3 + 5 + 3 + 8 days off.
    assert len(off) == 28
    assert off["2025-01-01"] == "元旦"
    assert [d for d, name in off.items() if name == "春节"] == [
        f"2025-{d}" for d in ("01-28", "01-29", "01-30", "01-31", "02-01", "02-02", "02-03", "02-04")
    ]
    assert [d for d, name in off.items() if name == "清明节"] == ["2025-04-04", "2025-04-05", "2025-04-06"]
    assert [d for d, name in off.items() if name == "端午节"] == ["2025-05-31", "2025-06-01", "2025-06-02"]
    assert off["2025-10-08"] == "国庆节、中秋节"
    assert "2025-10-09" not in off
    work = {d.date.isoformat(): d.name for d in days if not d.off}
    assert work == {
        "2025-01-26": "春节",
        "2025-02-08": "春节",
        "2025-04-27": "劳动节",
        "2025-09-28": "国庆节、中秋节",
        "2025-10-11": "国庆节、中秋节",
    }


def test_the_notice_reads_the_same_as_a_saved_web_page_with_ascii_punctuation() -> None:
    text = NOTICE_2025.decode()
    page = (
        "<html><body>"
        + "".join(f"<p><span>{line}</span></p>" for line in text.splitlines())
        + "</body></html>"
    )
    ascii_text = text.replace("：", ":").replace("（", "(").replace("）", ")").replace("，", ",")
    expected = read_holidays(NOTICE_2025)
    assert read_holidays(page.encode()) == expected
    assert read_holidays(ascii_text.encode()) == expected


def test_a_notice_without_its_title_needs_the_year() -> None:
    body = "二、春节：1月28日（农历除夕、周二）至2月4日（农历正月初七、周二）放假调休，共8天。"
    with pytest.raises(NoticeError, match="no year"):
        read_holidays(body.encode())
    assert len(_off(read_holidays(body.encode(), year=2025))) == 8


def test_a_range_into_the_next_year_ends_in_that_year() -> None:
    line = (
        "关于2018年部分节假日安排的通知\n一、元旦：12月30日至1月1日放假调休，共3天。12月29日（星期六）上班。"
    )
    off = _off(read_holidays(line.encode()))
    assert list(off) == ["2018-12-30", "2018-12-31", "2019-01-01"]


def test_holiday_cn_json_is_read_as_is() -> None:
    data = {
        "year": 2025,
        "days": [
            {"name": "元旦", "date": "2025-01-01", "isOffDay": True},
            {"name": "春节", "date": "2025-01-26", "isOffDay": False},
        ],
    }
    days = read_holidays(json.dumps(data, ensure_ascii=False).encode())
    assert [(d.date, d.name, d.off) for d in days] == [
        (dt.date(2025, 1, 1), "元旦", True),
        (dt.date(2025, 1, 26), "春节", False),
    ]


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        (b"\xff\xfe not utf-8", "not UTF-8"),
        (b"{not json", "not JSON"),
        (b'{"days": [{"date": "2025-13-01", "isOffDay": true}]}', "not a date"),
        (b'{"holidays": []}', "days"),
        ("关于2025年部分节假日安排的通知 放假安排见附件".encode(), "no holidays found"),
        ("关于2025年部分节假日安排的通知\n一、元旦：2月30日放假".encode(), "not a date"),
        ("关于2025年部分节假日安排的通知\n一、元旦：1月1日至6月1日放假".encode(), "too long"),
    ],
)
def test_what_is_not_a_holiday_list_is_refused_with_the_reason(raw: bytes, why: str) -> None:
    with pytest.raises(NoticeError, match=why):
        read_holidays(raw)
