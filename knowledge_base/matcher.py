"""The FAQ matcher: one fused score per entry and a three-band decision with its explanation.

Scores fuse three signals over TF-IDF features of words (jieba for Chinese) and character n-grams:

* ``linear``: a one-vs-rest linear model (modified Huber loss) fitted on the KB's phrasings;
* ``centroid``: cosine to the mean vector of an entry's phrasings (robust with two or three phrasings);
* ``nearest``: cosine to the single closest phrasing, which also names the phrasing that matched.

``python -m knowledge_base.bench --ablate`` measures what each signal adds; weights live in
:class:`Weights` so a KB can be re-weighted without code changes.
"""

from __future__ import annotations

import enum
import hashlib
import json
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import sparse
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import SGDClassifier
from sklearn.preprocessing import normalize

from knowledge_base.features import vectorizers
from knowledge_base.normalise import Normaliser

FloatArray = npt.NDArray[np.float64]
MIN_DENSITY = 8
# Tried on the dev sets: alpha 5e-5 and 2e-4, 30 epochs, hinge and log loss (bench/RESULTS.md).
LINEAR: dict[str, Any] = {"loss": "modified_huber", "alpha": 1e-4, "epochs": 15}


class Band(str, enum.Enum):
    """What the bot does with a question."""

    ANSWER = "answer"
    SUGGEST = "suggest"
    ESCALATE = "escalate"


@dataclass(frozen=True)
class Thresholds:
    """Fused-score cut-offs: at or above ``answer`` answer; at or above ``suggest`` offer choices."""

    # Compared with the decision's confidence (see _confidence); on the built-in FAQ a clear match
    # is 0.55-0.85 and unrelated questions 0.1-0.25. Calibrate on golden questions to fit a KB.
    answer: float = 0.55
    suggest: float = 0.3

    def __post_init__(self) -> None:
        """Refuse an answer threshold below the suggest threshold."""
        if self.answer < self.suggest:
            raise ValueError("the answer threshold must not be below the suggest threshold")


@dataclass(frozen=True)
class Weights:
    """How much each signal counts in the fused score (a zero weight skips the signal)."""

    linear: float = 1.0
    centroid: float = 0.5
    nearest: float = 0.5


@dataclass(frozen=True)
class LinearState:
    """A fitted linear model: features × entries weights, and what they were fitted on."""

    key: str
    coef: npt.NDArray[np.float32]
    intercept: npt.NDArray[np.float32]


def linear_key(entry_ids: Sequence[str], width: int, features: str) -> str:
    """Identify the entries, features and model settings a linear model belongs to."""
    settings = json.dumps(LINEAR, sort_keys=True)
    digest = hashlib.sha256("\x1f".join([*entry_ids, features, settings]).encode()).hexdigest()[:16]
    return f"{digest}:{width}"


@dataclass(frozen=True)
class Phrasing:
    """One indexed question: the entry it belongs to and its text as staff wrote it."""

    entry_id: str
    text: str


@dataclass(frozen=True)
class Candidate:
    """One scored entry, with the signal values behind its fused score."""

    entry_id: str
    score: float
    matched_question: str
    signals: dict[str, float]


@dataclass(frozen=True)
class Decision:
    """The matcher's decision for one question: band, best entries and why."""

    band: Band
    query: str
    normalised: str
    candidates: tuple[Candidate, ...]
    thresholds: Thresholds
    overrides: dict[str, float] = field(default_factory=dict)
    confidence: float = float("-inf")

    @property
    def entry_id(self) -> str | None:
        """Return the top entry's id unless the question is escalated."""
        if self.band is Band.ESCALATE or not self.candidates:
            return None
        return self.candidates[0].entry_id

    def explain(self) -> dict[str, Any]:
        """Return a JSON-ready explanation for logs and the content-staff tester."""
        return {
            "band": self.band.value,
            "confidence": round(self.confidence, 4) if math.isfinite(self.confidence) else None,
            "normalised": self.normalised,
            "thresholds": {"answer": self.thresholds.answer, "suggest": self.thresholds.suggest},
            "overrides": self.overrides,
            "candidates": [
                {
                    "entry_id": c.entry_id,
                    "score": round(c.score, 4),
                    "matched_question": c.matched_question,
                    "signals": {k: round(v, 4) for k, v in c.signals.items()},
                }
                for c in self.candidates
            ],
        }


def _confidence(candidates: Sequence[Candidate]) -> float:
    """How sure the top candidate is: what the bands compare with the thresholds.

    The mean of its fused score and its centroid cosine (the centroid is the steadiest signal on
    questions outside the KB), less a quarter of the runner-up's score (two entries fitting equally
    well is a reason to ask). Measured against the fused score alone in bench/RESULTS.md.
    """
    if not candidates:
        return float("-inf")
    top = candidates[0]
    centroid = top.signals.get("centroid", top.score)
    runner_up = candidates[1].score if len(candidates) > 1 else 0.0
    return (top.score + centroid) / 2 - 0.25 * runner_up


def _gather(vector: sparse.csr_matrix, dense: FloatArray) -> FloatArray:
    # scipy's sparse @ dense copies the whole dense operand per call; one query row needs only
    # the rows of its non-zero features.
    result: FloatArray = vector.data @ dense[vector.indices]
    return result


def _exact_phrasings(texts: Sequence[str], phrasings: Sequence[Phrasing]) -> dict[str, tuple[str, str]]:
    """Map each normalised text owned by exactly one entry to that entry and its wording.

    A question that is exactly one of the entry's phrasings (after normalisation) is answered
    outright: suggestion buttons send the standard question back, and staff expect their own
    wording to work. Texts shared by two entries are left to the scores.
    """
    owners: dict[str, set[str]] = {}
    wording: dict[str, str] = {}
    for text, phrasing in zip(texts, phrasings, strict=True):
        owners.setdefault(text, set()).add(phrasing.entry_id)
        wording.setdefault(text, phrasing.text)
    return {text: (next(iter(ids)), wording[text]) for text, ids in owners.items() if len(ids) == 1 and text}


class Matcher:
    """An immutable index over one set of phrasings; build a new one to change the KB."""

    def __init__(
        self,
        phrasings: Sequence[Phrasing],
        *,
        normaliser: Normaliser | None = None,
        thresholds: Thresholds | None = None,
        weights: Weights | None = None,
        entry_thresholds: dict[str, Thresholds] | None = None,
        features: str = "en",
        linear: LinearState | None = None,
    ) -> None:
        """Index ``phrasings`` and fit the linear model; raises ValueError when there is nothing to index."""
        if not phrasings:
            raise ValueError("the knowledge base has no questions to match against")
        self.normaliser = normaliser or Normaliser()
        self.thresholds = thresholds or Thresholds()
        self.weights = weights or Weights()
        self.entry_thresholds = dict(entry_thresholds or {})
        self.phrasings = tuple(phrasings)
        texts = [self.normaliser.normalise(p.text) for p in self.phrasings]
        self._exact = _exact_phrasings(texts, self.phrasings)
        self.entry_ids: tuple[str, ...] = tuple(sorted({p.entry_id for p in self.phrasings}))
        index = {entry_id: i for i, entry_id in enumerate(self.entry_ids)}
        labels = np.array([index[p.entry_id] for p in self.phrasings])
        self._labels = labels

        self.features = features
        self._vectorizers = vectorizers(features, self.normaliser)
        matrix = self._fit_transform(texts)
        self._matrix = matrix.T.tocsr()  # features × phrasings, for one sparse product per query

        owner = sparse.csr_matrix(
            (np.ones(len(labels)), (labels, np.arange(len(labels)))),
            shape=(len(self.entry_ids), len(labels)),
        )
        # Features × entries, C order: a query gathers only the rows of its own features (_gather).
        self._centroids = np.ascontiguousarray(normalize(owner @ matrix).T.toarray())

        # A discriminative model needs examples: below MIN_DENSITY phrasings per entry it latches
        # onto single shared words or scores every entry negative (seen on the built-in FAQ), so it
        # is left out; above, its weight grows with phrasings per entry (full from 20 up).
        density = len(self.phrasings) / len(self.entry_ids)
        self._linear_weight = self.weights.linear * min(1.0, density / 20) if density >= MIN_DENSITY else 0.0
        self._linear_key = linear_key(self.entry_ids, matrix.shape[1], features)
        self._coef, self._intercept = self._linear(matrix, labels, linear)
        # Start offsets of each entry's run of phrasings, to take per-entry maxima with reduceat.
        order = np.argsort(labels, kind="stable")
        self._order = order
        self._starts = np.searchsorted(labels[order], np.arange(len(self.entry_ids)))

    def _linear(
        self, matrix: sparse.csr_matrix, labels: npt.NDArray[np.int64], linear: LinearState | None
    ) -> tuple[FloatArray | None, FloatArray | None]:
        """Return the linear model's weights: the publisher's when they fit these features, else fitted."""
        if not self._linear_weight or len(self.entry_ids) <= 1:
            return None, None
        if linear is not None and linear.key == self._linear_key:
            # Fitted by the instance that published this version: the features are rebuilt
            # deterministically from the same texts, so its weights apply as they are.
            return np.ascontiguousarray(linear.coef, dtype=np.float64), np.asarray(
                linear.intercept, dtype=np.float64
            )
        model = SGDClassifier(
            loss=LINEAR["loss"],
            alpha=LINEAR["alpha"],
            max_iter=LINEAR["epochs"],
            tol=None,
            random_state=0,
        )
        with warnings.catch_warnings():
            # A fixed epoch budget is the point: fitting must stay well under a second a publish.
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(matrix, labels)
        coef, intercept = model.coef_, model.intercept_
        if coef.shape[0] == 1:
            # Two entries: scikit-learn fits one classifier for the second; the first is its mirror.
            coef, intercept = np.vstack([-coef, coef]), np.concatenate([-intercept, intercept])
        return np.ascontiguousarray(coef.T), intercept

    def linear_state(self) -> LinearState | None:
        """Return the fitted linear weights, to share with other instances (None when unused)."""
        if self._coef is None or self._intercept is None:
            return None
        coef, intercept = self._coef.astype(np.float32), self._intercept.astype(np.float32)
        return LinearState(self._linear_key, coef, intercept)

    def _fit_transform(self, texts: list[str]) -> sparse.csr_matrix:
        parts = [v.fit_transform(texts) for v in self._vectorizers]
        # Per-vectorizer lookups for _transform: analyzer, vocabulary, idf and column offset.
        self._lookups = []
        offset = 0
        for vectorizer in self._vectorizers:
            idf = vectorizer.idf_
            self._lookups.append(
                (vectorizer.build_analyzer(), vectorizer.vocabulary_, idf, offset, float(idf.max()))
            )
            offset += len(idf)
        self._width = offset
        return normalize(sparse.hstack(parts).tocsr())

    def _transform(self, text: str) -> sparse.csr_matrix:
        """Vectorise one query; units the KB never saw still count in its length.

        TF-IDF drops unknown units, so "退款大概多久能到账呢" would equal "退款多久到账" exactly. Giving
        each unseen unit the weight of the rarest known one makes a question that is mostly new
        words score lower, which is what escalation needs.
        """
        columns: list[int] = []
        values: list[float] = []
        unseen_mass = 0.0
        for analyze, vocabulary, idf, offset, max_idf in self._lookups:
            counts: dict[str, int] = {}
            for unit in analyze(text):
                counts[unit] = counts.get(unit, 0) + 1
            for unit, count in counts.items():
                weight = 1.0 + math.log(count)
                column = vocabulary.get(unit)
                if column is None:
                    unseen_mass += (weight * max_idf) ** 2
                else:
                    columns.append(offset + column)
                    values.append(weight * float(idf[column]))
        data = np.array(values)
        norm = math.sqrt(float(data @ data) + unseen_mass)
        if norm:
            data = data / norm
        return sparse.csr_matrix(
            (data, (np.zeros(len(columns), dtype=np.int64), columns)), shape=(1, self._width)
        )

    def scores(self, normalised: str) -> tuple[FloatArray, dict[str, FloatArray], FloatArray]:
        """Return fused scores per entry, each signal per entry, and the phrasing similarities."""
        vector = self._transform(normalised)
        similarity = np.asarray((vector @ self._matrix).todense()).ravel()
        nearest = np.maximum.reduceat(similarity[self._order], self._starts)
        centroid = _gather(vector, self._centroids)
        signals: dict[str, FloatArray] = {"centroid": centroid, "nearest": nearest}
        fused = self.weights.centroid * centroid + self.weights.nearest * nearest
        total = self.weights.centroid + self.weights.nearest
        if self._coef is not None and self._intercept is not None:
            # Clipped to modified Huber's probability range: past ±1 the model is only more sure,
            # and on small KBs it is overconfident about a single shared word.
            linear = np.clip(_gather(vector, self._coef) + self._intercept, -1.0, 1.0)
            signals["linear"] = linear
            fused = fused + self._linear_weight * linear
            total += self._linear_weight
        return fused / (total or 1.0), signals, similarity

    def match(self, question: str, *, top: int = 5) -> Decision:
        """Score ``question`` against every entry and decide answer, suggest or escalate."""
        normalised = self.normaliser.normalise(question)
        fused, signals, similarity = self.scores(normalised)
        best = np.argsort(-fused)[:top]
        candidates = []
        for i in best:
            members = self._order[
                self._starts[i] : (self._starts[i + 1] if i + 1 < len(self._starts) else None)
            ]
            closest = members[np.argmax(similarity[members])]
            candidates.append(
                Candidate(
                    entry_id=self.entry_ids[i],
                    score=float(fused[i]),
                    matched_question=self.phrasings[closest].text,
                    signals={name: float(values[i]) for name, values in signals.items()},
                )
            )
        thresholds = self.thresholds
        overrides: dict[str, float] = {}
        if candidates and candidates[0].entry_id in self.entry_thresholds:
            thresholds = self.entry_thresholds[candidates[0].entry_id]
            overrides = {"answer": thresholds.answer, "suggest": thresholds.suggest}
        confidence = _confidence(candidates) if normalised else float("-inf")
        exact = self._exact.get(normalised)
        if exact is not None and candidates[0].entry_id != exact[0]:
            # Rare: scores rank another entry first; the exact phrasing wins and leads the list.
            pos = self.entry_ids.index(exact[0])
            candidates.insert(0, Candidate(exact[0], float(fused[pos]), exact[1], {"exact": 1.0}))
            candidates = [c for i, c in enumerate(candidates) if i == 0 or c.entry_id != exact[0]][:top]
        if exact is not None:
            band = Band.ANSWER
            overrides = {**overrides, "exact": 1.0}
        elif confidence >= thresholds.answer:
            band = Band.ANSWER
        elif confidence >= thresholds.suggest:
            band = Band.SUGGEST
        else:
            band = Band.ESCALATE
        return Decision(band, question, normalised, tuple(candidates), thresholds, overrides, confidence)

    def with_thresholds(self, thresholds: Thresholds) -> Matcher:
        """Return a copy that shares the fitted index but decides with other thresholds."""
        clone = object.__new__(Matcher)
        clone.__dict__.update(self.__dict__)
        clone.thresholds = thresholds
        return clone
