"""Run the knowledge-base benchmark on every public set and print a Markdown table.

    .venv/bin/python -m bench.kb_sets [--data ../shared/data/faq] [--folds 2]

For each set: the contract run (``knowledge_base.bench`` calibrated on dev, scored on dev: optimistic,
since thresholds are chosen on the scored queries) and an honest estimate of a held-out split: dev is
cut into ``--folds`` parts by a stable hash; thresholds are calibrated on the other parts and each part
scored with them. Only the production import path, index, calibration and matcher are used.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from pathlib import Path
from typing import Any

from knowledge_base.bench import evaluate, read_queries
from knowledge_base.calibrate import OOS_RECALL_FLOOR, calibrate
from knowledge_base.formats import load_bytes
from knowledge_base.index import KnowledgeIndex
from knowledge_base.matcher import Thresholds, Weights

SETS = ("clinc150", "clinc150_10shot", "banking77_oos", "lcqmc_faq", "bq_faq")
MINIMA = {
    "clinc150": (0.915, 0.60),
    "clinc150_10shot": (0.78, 0.60),
    "banking77_oos": (0.80, 0.60),
    "lcqmc_faq": (0.88, 0.65),
    "bq_faq": (0.20, 0.80),
}


def fold_of(text: str, folds: int) -> int:
    """Return the text's fold among ``folds`` (a stable hash: the same on every run and machine)."""
    return int(hashlib.sha256(text.encode()).hexdigest(), 16) % folds


def run_set(
    root: Path, name: str, folds: int, weights: Weights, oos_floor: float = OOS_RECALL_FLOOR
) -> dict[str, Any]:
    """Return the contract figures, the cross-fitted estimate and the ranking's ceiling for one set."""
    started = time.perf_counter()
    entries = load_bytes((root / name / "kb.jsonl").read_bytes(), "jsonl")
    index = KnowledgeIndex(entries, weights=weights)
    build_s = time.perf_counter() - started
    locale = entries[0].locale
    dev = read_queries(root / name / "dev.tsv")
    contract = evaluate(index.with_thresholds(calibrate(index, dev, locale).thresholds), dev, locale)
    # Nothing escalated: the share of in-scope questions ranked right first, which no threshold can exceed.
    ceiling = evaluate(index.with_thresholds(Thresholds(float("-inf"), float("-inf"))), dev, locale)
    right = escalated_oos = in_scope = oos = 0
    for k in range(folds):
        held = [q for q in dev if fold_of(q.text, folds) == k]
        rest = [q for q in dev if fold_of(q.text, folds) != k]
        chosen = calibrate(index, rest, locale, oos_recall_floor=oos_floor)
        scored = evaluate(index.with_thresholds(chosen.thresholds), held, locale)
        n_in = sum(not q.out_of_scope for q in held)
        n_oos = len(held) - n_in
        right += round((scored["in_scope_accuracy"] or 0) * n_in)
        escalated_oos += round((scored["oos_recall"] or 0) * n_oos)
        in_scope += n_in
        oos += n_oos
    return {
        "set": name,
        "build_s": build_s,
        "contract": contract,
        "heldout_in_scope_accuracy": right / in_scope,
        "heldout_oos_recall": escalated_oos / oos,
        "ranked_first": ceiling["in_scope_accuracy"],
    }


def main() -> None:
    """Print one Markdown row per set, and the raw JSON after the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path(__file__).parents[2] / "shared" / "data" / "faq")
    parser.add_argument("--folds", type=int, default=2)
    parser.add_argument("--sets", nargs="*", default=list(SETS))
    parser.add_argument("--weights", default="", help="ablation, e.g. linear=0 or centroid=0,nearest=1")
    parser.add_argument(
        "--oos-floor", type=float, default=OOS_RECALL_FLOOR, help="held-out calibration's OOS floor"
    )
    args = parser.parse_args()
    weights = Weights(**{k: float(v) for k, v in (p.split("=") for p in args.weights.split(",") if p)})
    rows = [run_set(args.data, name, args.folds, weights, args.oos_floor) for name in args.sets]
    print(
        "| set | in-scope acc (dev, contract) | OOS recall | top-5 | auto-answer precision "
        "| in-scope acc (held-out folds) | OOS recall (held-out) | ranked first (ceiling) | minimum "
        "| build s | p50 ms | p99 ms |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|")
    for r in rows:
        c = r["contract"]
        lo_acc, lo_rec = MINIMA.get(r["set"], (0, 0))
        print(
            f"| {r['set']} | {c['in_scope_accuracy']:.3f} | {c['oos_recall']:.3f} | {c['top5_accuracy']:.3f} "
            f"| {c['auto_answer_precision']:.3f} | {r['heldout_in_scope_accuracy']:.3f} "
            f"| {r['heldout_oos_recall']:.3f} | {r['ranked_first']:.3f} | ≥ {lo_acc} / ≥ {lo_rec} "
            f"| {r['build_s']:.2f} "
            f"| {c['p50_ms']:.2f} | {c['p99_ms']:.2f} |"
        )
    print()
    print(json.dumps(rows, ensure_ascii=False, default=str))


if __name__ == "__main__":
    main()
