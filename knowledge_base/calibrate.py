"""Choose the two thresholds from labelled questions (golden questions or a dev split)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from knowledge_base.index import KnowledgeIndex
from knowledge_base.matcher import Thresholds

ESCALATE = "__oos__"
# The share of out-of-scope questions the suggest threshold escalates at least (see `calibrate`).
OOS_RECALL_FLOOR = 0.68
OOS_LABELS = {ESCALATE, "escalate"}


@dataclass(frozen=True)
class Labelled:
    """A question and what should happen to it: an entry id, or escalate."""

    text: str
    expected: str

    @property
    def out_of_scope(self) -> bool:
        """Return True when the question should be escalated rather than answered."""
        return self.expected in OOS_LABELS


@dataclass(frozen=True)
class Calibration:
    """Chosen thresholds and the figures they give on the questions they were chosen on."""

    thresholds: Thresholds
    in_scope_accuracy: float
    oos_recall: float | None
    auto_answer_precision: float | None
    questions: int


def calibrate(
    index: KnowledgeIndex,
    questions: Sequence[Labelled],
    locale: str,
    *,
    oos_recall_floor: float = OOS_RECALL_FLOOR,
    recall_weight: float = 0.03,
    precision_target: float = 0.95,
) -> Calibration:
    """Pick the suggest and answer thresholds from labelled questions.

    Suggest: escalate at least ``oos_recall_floor`` of the out-of-scope questions; above that floor,
    one point of OOS recall is worth ``recall_weight`` points of in-scope accuracy (so a KB whose
    accuracy hardly moves with the threshold escalates more). Answer: the lowest threshold at which
    direct answers are right at least ``precision_target`` of the time.
    """
    if not questions:
        raise ValueError("calibration needs labelled questions")
    score, correct = _scores(index, questions, locale)
    oos = np.array([q.out_of_scope for q in questions])
    ins = ~oos
    finite = score[np.isfinite(score)]
    # "Keep everything" is a cut just below the lowest score, so thresholds stay finite (JSON-safe).
    floor = float(finite.min()) - 0.01 if finite.size else 0.0
    cuts = np.unique(np.concatenate([finite, [floor]]))
    best_cut, best_key = float(cuts[0]), (-1.0, -1.0)
    for cut in cuts:
        kept = score >= cut
        accuracy = float((correct & kept)[ins].mean()) if ins.any() else 0.0
        recall = float((~kept)[oos].mean()) if oos.any() else 0.0
        # Reach the floor first; then maximise accuracy plus the weighted recall.
        key = (min(recall, oos_recall_floor), accuracy + recall_weight * recall)
        if key > best_key:
            best_cut, best_key = float(cut), key
    suggest = best_cut
    answer = _answer_cut(score, correct, cuts, suggest, precision_target)
    thresholds = Thresholds(answer=max(answer, suggest), suggest=suggest)
    kept = score >= suggest
    answered = score >= thresholds.answer
    return Calibration(
        thresholds=thresholds,
        in_scope_accuracy=float((correct & kept)[ins].mean()) if ins.any() else 0.0,
        oos_recall=float((~kept)[oos].mean()) if oos.any() else None,
        auto_answer_precision=float(correct[answered].mean()) if answered.any() else None,
        questions=len(questions),
    )


def _scores(
    index: KnowledgeIndex, questions: Sequence[Labelled], locale: str
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
    """Return each question's top confidence with every band open, and whether its top entry is right."""
    open_index = index.with_thresholds(Thresholds(float("inf"), float("-inf")))
    tops: list[float] = []
    right: list[bool] = []
    for q in questions:
        found = open_index.find(q.text, locale)
        candidates = found.decision.candidates if found else ()
        tops.append(found.decision.confidence if found else float("-inf"))
        right.append(bool(candidates) and candidates[0].entry_id == q.expected)
    return np.array(tops, dtype=np.float64), np.array(right, dtype=np.bool_)


def _answer_cut(
    score: npt.NDArray[np.float64],
    correct: npt.NDArray[np.bool_],
    cuts: npt.NDArray[np.float64],
    suggest: float,
    precision_target: float,
) -> float:
    """Return the lowest cut at or above ``suggest`` whose direct answers meet ``precision_target``."""
    answer = float(cuts[-1]) if len(cuts) else suggest
    for cut in cuts[cuts >= suggest]:
        band = score >= cut
        if not band.any():
            break
        if float(correct[band].mean()) >= precision_target:
            return float(cut)
    return answer
