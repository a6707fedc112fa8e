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
import itertools
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import sparse
from sklearn.exceptions import ConvergenceWarning
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import SGDClassifier
from sklearn.preprocessing import normalize

from knowledge_base.normalise import Normaliser

FloatArray = npt.NDArray[np.float64]
MIN_DENSITY = 8


class Band(str, enum.Enum):
    """What the bot does with a question."""

    ANSWER = "answer"
    SUGGEST = "suggest"
    ESCALATE = "escalate"


@dataclass(frozen=True)
class Thresholds:
    """Fused-score cut-offs: at or above ``answer`` answer; at or above ``suggest`` offer choices."""

    # The fused score is a weighted mean of signals in [-1, 1]; a clear match scores 0.7-1.
    # Calibrate on golden questions to fit a particular KB.
    answer: float = 0.6
    suggest: float = 0.45

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


def _analyzer(normaliser: Normaliser) -> Callable[[str], list[str]]:
    def words_and_bigrams(text: str) -> list[str]:
        words = normaliser.words(text)
        return words + [f"{a} {b}" for a, b in itertools.pairwise(words)]

    return words_and_bigrams


def _gather(vector: sparse.csr_matrix, dense: FloatArray) -> FloatArray:
    # scipy's sparse @ dense copies the whole dense operand per call; one query row needs only
    # the rows of its non-zero features.
    result: FloatArray = vector.data @ dense[vector.indices]
    return result


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
        # A question that is exactly one of the entry's phrasings (after normalisation) is answered
        # outright: suggestion buttons send the standard question back, and staff expect their own
        # wording to work. Texts shared by two entries are left to the scores.
        owners: dict[str, set[str]] = {}
        for text, phrasing in zip(texts, self.phrasings, strict=True):
            owners.setdefault(text, set()).add(phrasing.entry_id)
        self._exact = {text: next(iter(ids)) for text, ids in owners.items() if len(ids) == 1 and text}
        self.entry_ids: tuple[str, ...] = tuple(sorted({p.entry_id for p in self.phrasings}))
        index = {entry_id: i for i, entry_id in enumerate(self.entry_ids)}
        labels = np.array([index[p.entry_id] for p in self.phrasings])
        self._labels = labels

        self._words = TfidfVectorizer(analyzer=_analyzer(self.normaliser), sublinear_tf=True)
        self._chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 4), sublinear_tf=True)
        matrix = self._fit_transform(texts)
        self._matrix = matrix.T.tocsr()  # features × phrasings, for one sparse product per query

        owner = sparse.csr_matrix(
            (np.ones(len(labels)), (labels, np.arange(len(labels)))),
            shape=(len(self.entry_ids), len(labels)),
        )
        # Features × entries, C order: a query gathers only the rows of its own features (_gather).
        self._centroids = np.ascontiguousarray(normalize(owner @ matrix).T.toarray())

        self._coef: FloatArray | None = None
        self._intercept: FloatArray | None = None
        # A discriminative model needs examples: below MIN_DENSITY phrasings per entry it latches
        # onto single shared words or scores every entry negative (seen on the built-in FAQ), so it
        # is left out; above, its weight grows with phrasings per entry (full from 20 up).
        density = len(self.phrasings) / len(self.entry_ids)
        self._linear_weight = self.weights.linear * min(1.0, density / 20) if density >= MIN_DENSITY else 0.0
        if self._linear_weight and len(self.entry_ids) > 1:
            model = SGDClassifier(loss="modified_huber", alpha=1e-4, max_iter=15, tol=None, random_state=0)
            with warnings.catch_warnings():
                # A fixed epoch budget is the point: fitting must stay well under a second a publish.
                warnings.simplefilter("ignore", ConvergenceWarning)
                model.fit(matrix, labels)
            coef, intercept = model.coef_, model.intercept_
            if coef.shape[0] == 1:
                # Two entries: scikit-learn fits one classifier for the second; the first is its mirror.
                coef, intercept = np.vstack([-coef, coef]), np.concatenate([-intercept, intercept])
            self._coef = np.ascontiguousarray(coef.T)
            self._intercept = intercept
        # Start offsets of each entry's run of phrasings, to take per-entry maxima with reduceat.
        order = np.argsort(labels, kind="stable")
        self._order = order
        self._starts = np.searchsorted(labels[order], np.arange(len(self.entry_ids)))

    def _fit_transform(self, texts: list[str]) -> sparse.csr_matrix:
        words = self._words.fit_transform(texts)
        chars = self._chars.fit_transform(texts)
        return normalize(sparse.hstack([words, chars]).tocsr())

    def _transform(self, texts: list[str]) -> sparse.csr_matrix:
        words = self._words.transform(texts)
        chars = self._chars.transform(texts)
        return normalize(sparse.hstack([words, chars]).tocsr())

    def scores(self, normalised: str) -> tuple[FloatArray, dict[str, FloatArray], FloatArray]:
        """Return fused scores per entry, each signal per entry, and the phrasing similarities."""
        vector = self._transform([normalised])
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
        top_score = candidates[0].score if candidates and normalised else float("-inf")
        exact = self._exact.get(normalised)
        if exact is not None and candidates[0].entry_id != exact:
            # Rare: scores rank another entry first; the exact phrasing wins and leads the list.
            pos = self.entry_ids.index(exact)
            candidates.insert(0, Candidate(exact, float(fused[pos]), question, {"exact": 1.0}))
            candidates = [c for i, c in enumerate(candidates) if i == 0 or c.entry_id != exact][:top]
        if exact is not None:
            band = Band.ANSWER
            overrides = {**overrides, "exact": 1.0}
        elif top_score >= thresholds.answer:
            band = Band.ANSWER
        elif top_score >= thresholds.suggest:
            band = Band.SUGGEST
        else:
            band = Band.ESCALATE
        return Decision(band, question, normalised, tuple(candidates), thresholds, overrides)

    def with_thresholds(self, thresholds: Thresholds) -> Matcher:
        """Return a copy that shares the fitted index but decides with other thresholds."""
        clone = object.__new__(Matcher)
        clone.__dict__.update(self.__dict__)
        clone.thresholds = thresholds
        return clone
