"""The FAQ matcher: one fused score per entry and a three-band decision with its explanation.

Scores fuse three signals over TF-IDF features of words (jieba for Chinese) and character n-grams:

* ``linear``: a one-vs-rest linear model (modified Huber loss) fitted on the KB's phrasings, each
  entry's classifier on its own phrasings and a sample of the others (``knowledge_base.linear``);
* ``centroid``: cosine to the mean vector of an entry's phrasings (robust with two or three phrasings);
* ``nearest``: cosine to the single closest phrasing, which also names the phrasing that matched.

``python -m knowledge_base.bench --ablate`` measures what each signal adds; weights live in
:class:`Weights` so a KB can be re-weighted without code changes.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import sparse
from sklearn.preprocessing import normalize

from knowledge_base.features import vectorizers
from knowledge_base.linear import fit_linear
from knowledge_base.normalise import Normaliser
from knowledge_base.state import MatcherState, state_key

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


@dataclass(frozen=True)
class _Query:
    """One query's TF-IDF vector: its distinct feature columns and their (length-normalised) weights."""

    columns: npt.NDArray[np.int64]
    values: FloatArray


def _gather(query: _Query, dense: FloatArray) -> FloatArray:
    # scipy's sparse @ dense copies the whole dense operand per call; one query needs only the rows of
    # its own features.
    result: FloatArray = query.values @ dense[query.columns]
    return result


def _similarities(query: _Query, matrix: sparse.csr_matrix) -> FloatArray:
    """Return the query's dot product with every phrasing (``matrix``: features × phrasings, CSR)."""
    # Read straight from the CSR arrays: building a one-row scipy matrix and multiplying cost ~110 µs of
    # object checks per query, the product itself ~20 µs (bench/RESULTS.md, issue 17).
    starts = matrix.indptr[query.columns]
    lengths = matrix.indptr[query.columns + 1] - starts
    # The positions of every stored value in the query's feature rows, row after row.
    positions = np.repeat(starts - (np.cumsum(lengths) - lengths), lengths) + np.arange(int(lengths.sum()))
    weights = np.repeat(query.values, lengths) * matrix.data[positions]
    sums = np.bincount(matrix.indices[positions], weights=weights, minlength=matrix.shape[1])
    result: FloatArray = sums.astype(np.float64, copy=False)  # float64 already (weighted): no copy
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
        built: Mapping[str, MatcherState] | None = None,
    ) -> None:
        """Index ``phrasings``, loading the state ``built`` holds for exactly these; ValueError when empty."""
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
        self._key = state_key([p.entry_id for p in self.phrasings], texts, features, self._vectorizers)
        # Built elsewhere (another instance's publish, this one's draft) from exactly these phrasings.
        state = (built or {}).get(self._key)
        self._state: MatcherState | None = None
        matrix = self._vectors(texts, state)

        owner = sparse.csr_matrix(
            (np.ones(len(labels)), (labels, np.arange(len(labels)))),
            shape=(len(self.entry_ids), len(labels)),
        )
        # Features × entries, C order: a query gathers only the rows of its own features (_gather).
        # Transposed while sparse: transposing the dense array copied ~56 MB on a clinc-sized KB.
        self._centroids = normalize(owner @ matrix).T.tocsr().toarray()

        # A discriminative model needs examples: below MIN_DENSITY phrasings per entry it latches
        # onto single shared words or scores every entry negative (seen on the built-in FAQ), so it
        # is left out; above, its weight grows with phrasings per entry (full from 20 up).
        density = len(self.phrasings) / len(self.entry_ids)
        self._linear_weight = self.weights.linear * min(1.0, density / 20) if density >= MIN_DENSITY else 0.0
        self._coef, self._intercept = self._linear(matrix, labels, state)
        # Start offsets of each entry's run of phrasings, to take per-entry maxima with reduceat.
        order = np.argsort(labels, kind="stable")
        self._order = order
        self._starts = np.searchsorted(labels[order], np.arange(len(self.entry_ids)))

    def _vectors(self, texts: list[str], state: MatcherState | None) -> sparse.csr_matrix:
        """Return the phrasings × features matrix, loaded from ``state`` or fitted on ``texts``."""
        if state is not None:
            self._restore(state)
            self._matrix = state.vectors  # features × phrasings, for one sparse product per query
            return self._matrix.T.tocsr()
        matrix = self._fit_transform(texts)
        self._matrix = matrix.T.tocsr()
        return matrix

    def _linear(
        self, matrix: sparse.csr_matrix, labels: npt.NDArray[np.int64], state: MatcherState | None
    ) -> tuple[FloatArray | None, FloatArray | None]:
        """Return the linear model's weights: loaded from ``state``, fitted, or none when unused."""
        if not self._linear_weight or len(self.entry_ids) <= 1:
            return None, None
        if state is not None and state.coef is not None and state.intercept is not None:
            # Fitted where the state was built, on these very vectors.
            return np.ascontiguousarray(state.coef, dtype=np.float64), np.asarray(state.intercept, np.float64)
        coef, intercept = fit_linear(matrix, labels, self._centroids)
        # Rounded as the state stores them, so this instance decides exactly as those loading it do.
        return coef.astype(np.float32).astype(np.float64), intercept.astype(np.float32).astype(np.float64)

    def state(self) -> MatcherState:
        """Return what this matcher built, for other instances to load instead of rebuilding."""
        # Asked on every publish, reload and draft build (for reuse); the matcher never changes.
        if self._state is None:
            self._state = self._make_state()
        return self._state

    def _make_state(self) -> MatcherState:
        vocabularies = tuple(
            tuple(sorted(vocabulary, key=vocabulary.__getitem__)) for _, vocabulary, *_ in self._lookups
        )
        coef = self._coef.astype(np.float32) if self._coef is not None else None
        intercept = self._intercept.astype(np.float32) if self._intercept is not None else None
        idf = tuple(np.asarray(idf, dtype=np.float64) for _, _, idf, _, _ in self._lookups)
        return MatcherState(self._key, vocabularies, idf, self._matrix, coef, intercept)

    def _set_lookups(self) -> None:
        # Per-vectorizer lookups for _transform: analyzer, vocabulary, idf and column offset.
        self._lookups = []
        offset = 0
        for vectorizer in self._vectorizers:
            idf = vectorizer.idf_
            self._lookups.append(
                (vectorizer.build_analyzer(), vectorizer.vocabulary_, idf, offset, float(idf.max()))
            )
            offset += len(idf)

    def _fit_transform(self, texts: list[str]) -> sparse.csr_matrix:
        parts = [v.fit_transform(texts) for v in self._vectorizers]
        self._set_lookups()
        return normalize(sparse.hstack(parts).tocsr())

    def _restore(self, built: MatcherState) -> None:
        for vectorizer, units, idf in zip(self._vectorizers, built.vocabularies, built.idf, strict=True):
            vectorizer.vocabulary_ = {unit: column for column, unit in enumerate(units)}
            vectorizer.idf_ = idf
        self._set_lookups()

    def _transform(self, text: str) -> _Query:
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
        data = np.array(values, dtype=np.float64)
        norm = math.sqrt(float(data @ data) + unseen_mass)
        if norm:
            data = data / norm
        return _Query(np.array(columns, dtype=np.int64), data)

    def scores(self, normalised: str) -> tuple[FloatArray, dict[str, FloatArray], FloatArray]:
        """Return fused scores per entry, each signal per entry, and the phrasing similarities."""
        vector = self._transform(normalised)
        similarity = _similarities(vector, self._matrix)
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
