"""Entry validation and import/export: all or nothing, errors by line, round trips."""

from __future__ import annotations

import io
import json

import openpyxl
import pytest

from knowledge_base.entries import EntryError, parse_entry
from knowledge_base.formats import MAX_IMPORT_BYTES, ImportFailed, dump_bytes, load_bytes

FULL = {
    "id": "refund_time",
    "locale": "zh-CN",
    "category": "售后",
    "tags": ["退款"],
    "question": "退款多久到账",
    "alternatives": ["退款什么时候到账", "钱什么时候退回来"],
    "answer": "1-3 个工作日",
    "channel_answers": {"wechat": "微信里：1-3 天"},
    "buttons": [{"title": "查看订单", "payload": "查看订单"}],
    "image_url": "https://example.com/a.png",
    "enabled": True,
    "valid_from": "2026-01-01T00:00:00+08:00",
    "answer_threshold": 0.7,
}


def test_an_entry_without_questions_or_answer_is_refused_clearly() -> None:
    with pytest.raises(EntryError, match="needs at least one question"):
        parse_entry({"id": "x", "answer": "a"})
    with pytest.raises(EntryError, match="needs an answer"):
        parse_entry({"id": "x", "question": "q"})
    with pytest.raises(EntryError, match="without spaces or slashes"):
        parse_entry({"id": "a/b", "question": "q", "answer": "a"})


def test_neutral_jsonl_questions_become_standard_question_and_alternatives() -> None:
    entry = parse_entry({"id": "x", "questions": ["q1", "q2", "q1"], "answer": "a"})
    assert entry.question == "q1"
    assert entry.alternatives == ("q2",)


@pytest.mark.parametrize("fmt", ["yaml", "jsonl", "csv", "xlsx"])
def test_round_trip_keeps_what_the_format_holds(fmt: str) -> None:
    entry = parse_entry(FULL)
    again = load_bytes(dump_bytes([entry], fmt), fmt)
    assert len(again) == 1
    got = again[0]
    assert (got.id, got.locale, got.question, got.alternatives, got.answer) == (
        entry.id,
        entry.locale,
        entry.question,
        entry.alternatives,
        entry.answer,
    )
    assert got.category == "售后"
    assert got.answer_threshold == 0.7
    if fmt in ("yaml", "jsonl"):
        assert got == entry


def test_csv_errors_are_reported_by_line_and_nothing_is_imported() -> None:
    data = (
        "id,question,answer\n"
        "ok1,退款多久到账,1-3 天\n"
        "bad1,,没有问题\n"
        "ok2,怎么开发票,订单页\n"
        "bad2,密码忘了,\n"
        "ok1,重复的,x\n"
    ).encode()
    with pytest.raises(ImportFailed) as caught:
        load_bytes(data, "csv")
    errors = caught.value.errors
    assert [e.split(":")[0] for e in errors] == ["line 3", "line 5", "line 6"]
    assert "needs at least one question" in errors[0]
    assert "needs an answer" in errors[1]
    assert "repeats line 2" in errors[2]


def test_xlsx_errors_are_reported_by_row() -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["id", "question", "alternatives", "answer"])
    sheet.append(["a", "退款多久到账", "退款几天到\n钱什么时候退", "1-3 天"])
    sheet.append(["b", "怎么开发票", None, None])
    buffer = io.BytesIO()
    book.save(buffer)
    with pytest.raises(ImportFailed) as caught:
        load_bytes(buffer.getvalue(), "xlsx")
    assert caught.value.errors == ["row 3: entry b: needs an answer"]


def test_broken_files_and_huge_files_are_refused() -> None:
    with pytest.raises(ImportFailed, match="line 2: not valid JSON"):
        load_bytes(b'{"id":"a","questions":["q"],"answer":"a"}\n{broken\n', "jsonl")
    with pytest.raises(ImportFailed, match=r"not a readable \.xlsx"):
        load_bytes(b"PK\x03\x04 not really a zip", "xlsx")
    with pytest.raises(ImportFailed, match="not valid YAML"):
        load_bytes(b"entries: [\n  {id: a", "yaml")
    with pytest.raises(ImportFailed, match="limit"):
        load_bytes(b"x" * (MAX_IMPORT_BYTES + 1), "csv")
    with pytest.raises(ImportFailed, match="header"):
        load_bytes(b"foo,bar\n1,2\n", "csv")


def test_shared_neutral_format_loads() -> None:
    rows = [{"id": "card_arrival", "questions": ["where is my card?", "card not arrived"], "answer": "[a]"}]
    data = "\n".join(json.dumps(r) for r in rows).encode()
    (entry,) = load_bytes(data, "jsonl")
    assert entry.questions == ("where is my card?", "card not arrived")
