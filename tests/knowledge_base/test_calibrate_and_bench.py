"""Threshold calibration and the benchmark contract CLI, on a small hand-made KB."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from knowledge_base import bench
from knowledge_base.calibrate import Labelled, calibrate
from knowledge_base.entries import parse_entry
from knowledge_base.index import KnowledgeIndex

KB = [
    {"id": "refund", "questions": ["退款多久到账", "退款什么时候到", "钱什么时候退回来"], "answer": "1-3 天"},
    {"id": "invoice", "questions": ["怎么开发票", "发票怎么申请", "可以开专票吗"], "answer": "订单页申请"},
    {"id": "password", "questions": ["密码忘了怎么办", "怎么重置密码", "登录不了"], "answer": "点忘记密码"},
]
DEV = [
    ("退款几天能到账", "refund"),
    ("发票在哪里申请", "invoice"),
    ("忘记密码了", "password"),
    ("今天天气怎么样", "__oos__"),
    ("你们老板是谁", "__oos__"),
    ("附近有什么好吃的", "__oos__"),
]


def test_calibration_escalates_out_of_scope_and_keeps_in_scope() -> None:
    index = KnowledgeIndex(parse_entry(e) for e in KB)
    result = calibrate(index, [Labelled(t, e) for t, e in DEV], "zh-CN")
    assert result.oos_recall == 1.0
    assert result.in_scope_accuracy == 1.0
    assert result.thresholds.answer >= result.thresholds.suggest
    tuned = index.with_thresholds(result.thresholds)
    for text, expected in DEV:
        found = tuned.find(text, "zh-CN")
        assert found is not None
        assert (found.decision.entry_id or "__oos__") == expected, found.decision.explain()


def test_calibration_needs_questions() -> None:
    index = KnowledgeIndex(parse_entry(e) for e in KB)
    with pytest.raises(ValueError, match="labelled questions"):
        calibrate(index, [], "zh-CN")


def test_bench_cli_prints_the_contract_figures(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    kb = tmp_path / "kb.jsonl"
    kb.write_text("\n".join(json.dumps(e, ensure_ascii=False) for e in KB), encoding="utf-8")
    queries = tmp_path / "q.tsv"
    queries.write_text("\n".join(f"{t}\t{e}" for t, e in DEV), encoding="utf-8")
    assert (
        bench.main(["--kb", str(kb), "--queries", str(queries), "--calibrate", str(queries), "--json"]) == 0
    )
    result = json.loads(capsys.readouterr().out)
    for key in (
        "in_scope_accuracy",
        "oos_recall",
        "oos_precision",
        "top5_accuracy",
        "auto_answer_precision",
        "queries",
        "build_s",
        "p50_ms",
        "p99_ms",
    ):
        assert key in result
    assert result["queries"] == len(DEV)
    assert result["locale"] == "zh-CN"
    assert result["in_scope_accuracy"] == 1.0
    assert result["oos_recall"] == 1.0
