"""Benchmark the production matcher on a KB and labelled queries; prints one JSON object.

python -m knowledge_base.bench --kb KB.jsonl --queries Q.tsv [--calibrate DEV.tsv] --json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from knowledge_base.calibrate import Labelled, calibrate
from knowledge_base.formats import load_bytes
from knowledge_base.index import KnowledgeIndex
from knowledge_base.matcher import Band, Weights


def read_queries(path: Path) -> list[Labelled]:
    """Read ``text<TAB>expected_id`` lines."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        text, _, expected = line.rpartition("\t")
        out.append(Labelled(text, expected.strip()))
    return out


def evaluate(index: KnowledgeIndex, queries: Sequence[Labelled], locale: str) -> dict[str, Any]:
    """Answer every query through ``index`` and compute the contract's figures."""
    in_scope = right = oos = oos_escalated = escalated = escalated_oos = top5 = 0
    answered = answered_right = 0
    latencies = []
    for q in queries:
        start = time.perf_counter()
        found = index.find(q.text, locale)
        latencies.append(time.perf_counter() - start)
        assert found is not None
        decision = found.decision
        ids = [c.entry_id for c in decision.candidates]
        is_escalated = decision.band is Band.ESCALATE
        escalated += is_escalated
        if q.out_of_scope:
            oos += 1
            oos_escalated += is_escalated
            escalated_oos += is_escalated
        else:
            in_scope += 1
            right += (not is_escalated) and ids[:1] == [q.expected]
            top5 += q.expected in ids[:5]
        if decision.band is Band.ANSWER:
            answered += 1
            answered_right += ids[:1] == [q.expected]
    ms = np.array(latencies) * 1000
    return {
        "in_scope_accuracy": right / in_scope if in_scope else None,
        "oos_recall": oos_escalated / oos if oos else None,
        "oos_precision": escalated_oos / escalated if escalated else None,
        "top5_accuracy": top5 / in_scope if in_scope else None,
        "auto_answer_precision": answered_right / answered if answered else None,
        "answered_share": answered / len(queries) if queries else None,
        "queries": len(queries),
        "p50_ms": float(np.percentile(ms, 50)),
        "p99_ms": float(np.percentile(ms, 99)),
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print the figures as one JSON object."""
    parser = argparse.ArgumentParser(
        prog="python -m knowledge_base.bench", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--kb", type=Path, required=True, help="KB file (.jsonl, .yml, .csv or .xlsx)")
    parser.add_argument("--queries", type=Path, required=True, help="text<TAB>expected_id per line")
    parser.add_argument("--calibrate", type=Path, help="labelled dev queries to choose the thresholds on")
    parser.add_argument("--json", action="store_true", help="print JSON only (the default prints it too)")
    parser.add_argument(
        "--weights", default="", help="signal weights, e.g. linear=1,centroid=0.5,nearest=0.5 (ablation)"
    )
    parser.add_argument("--locale", help="locale to ask in (default: the KB's most common locale)")
    args = parser.parse_args(argv)

    suffix = args.kb.suffix.lstrip(".").replace("yml", "yaml")
    data = args.kb.read_bytes()
    weights = Weights(**{k: float(v) for k, v in (p.split("=") for p in args.weights.split(",") if p)})
    started = time.perf_counter()
    entries = load_bytes(data, suffix)
    index = KnowledgeIndex(entries, weights=weights)
    build_s = time.perf_counter() - started
    locale = args.locale or Counter(e.locale for e in entries).most_common(1)[0][0]
    result: dict[str, Any] = {"kb_entries": len(entries), "locale": locale, "build_s": round(build_s, 3)}
    if args.calibrate:
        dev = read_queries(args.calibrate)
        chosen = calibrate(index, dev, locale)
        index = index.with_thresholds(chosen.thresholds)
        result["calibration"] = {
            "answer": chosen.thresholds.answer,
            "suggest": chosen.thresholds.suggest,
            "dev_in_scope_accuracy": chosen.in_scope_accuracy,
            "dev_oos_recall": chosen.oos_recall,
        }
    else:
        result["thresholds"] = {"answer": index.thresholds.answer, "suggest": index.thresholds.suggest}
    result.update(evaluate(index, read_queries(args.queries), locale))
    json.dump(result, sys.stdout, ensure_ascii=False)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
