"""What building a matcher produced, shared with its version so other instances load it, not rebuild."""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer

from knowledge_base.linear import LINEAR


@dataclass(frozen=True)
class MatcherState:
    """One locale's built matcher: vocabularies and idf, phrasing vectors, linear weights."""

    # What it was built from (see state_key): a state only applies to exactly the same phrasings.
    key: str
    # Per vectorizer, its units in column order, and their idf.
    vocabularies: tuple[tuple[str, ...], ...]
    idf: tuple[npt.NDArray[np.float64], ...]
    # Features × phrasings, L2-normalised per phrasing.
    vectors: sparse.csr_matrix
    coef: npt.NDArray[np.float32] | None
    intercept: npt.NDArray[np.float32] | None


def _settings(vectorizer: TfidfVectorizer) -> dict[str, object]:
    # A custom analyzer is a function; its code is covered by the normalised texts it was built from
    # only in part, so its name goes in (a changed feature set gets a new name in features.py).
    params = vectorizer.get_params()
    analyzer = params.pop("analyzer")
    simple = {k: v for k, v in params.items() if isinstance(v, str | int | float | bool | tuple | None)}
    return {
        **simple,
        "analyzer": analyzer if isinstance(analyzer, str) else getattr(analyzer, "__name__", ""),
    }


def state_key(
    entry_ids: Sequence[str], texts: Sequence[str], features: str, vectorizers: Sequence[TfidfVectorizer]
) -> str:
    """Identify the phrasings (entry and normalised text), features and settings a state belongs to."""
    digest = hashlib.sha256()
    for entry_id, text in zip(entry_ids, texts, strict=True):
        digest.update(f"{entry_id}\x1f{text}\x1e".encode())
    settings = {"features": features, "linear": LINEAR, "vectorizers": [_settings(v) for v in vectorizers]}
    digest.update(json.dumps(settings, sort_keys=True, default=str).encode())
    return digest.hexdigest()[:32]


# Stored as bytes, not JSON with base64: clinc150's state was 68 MB that way, and encoding it as text cost
# the publisher ~0.6 s and each loading instance ~0.2 s (bench/RESULTS.md, knowledge-base reload).
MAGIC = b"KBSTATE1"


def states_to_bytes(states: Sequence[MatcherState]) -> bytes:
    """Return states as one blob: a magic, a JSON header (keys, vocabularies) and .npy arrays in order."""
    header = [
        {
            "key": state.key,
            "vocabularies": [list(units) for units in state.vocabularies],
            "shape": list(state.vectors.shape),
            # The weights' shape (features × entries), or None for a matcher without the linear signal.
            "linear": None if state.coef is None or state.intercept is None else list(state.coef.shape),
        }
        for state in states
    ]
    buffer = io.BytesIO()
    head = json.dumps(header, ensure_ascii=False).encode()
    buffer.write(MAGIC + len(head).to_bytes(8, "big") + head)
    for state in states:
        for array in _arrays(state):
            np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def _arrays(state: MatcherState) -> list[np.ndarray[Any, Any]]:
    vectors = state.vectors
    arrays: list[np.ndarray[Any, Any]] = [*state.idf, vectors.data, vectors.indices, vectors.indptr]
    if state.coef is not None and state.intercept is not None:
        # ~90 % of the weights are exactly zero (SGD leaves a feature an entry's sample never has at
        # zero): stored sparse, the state is about half the size.
        coef = sparse.csr_matrix(state.coef)
        arrays += [coef.data, coef.indices, coef.indptr, state.intercept]
    return arrays


def states_from_bytes(raw: bytes) -> list[MatcherState]:
    """Return the states `states_to_bytes` wrote; raise ValueError (or KeyError, TypeError) if unreadable."""
    if not raw.startswith(MAGIC):
        raise ValueError("not a matcher state")
    size = int.from_bytes(raw[len(MAGIC) : len(MAGIC) + 8], "big")
    start = len(MAGIC) + 8
    header = json.loads(raw[start : start + size])
    buffer = io.BytesIO(raw)
    buffer.seek(start + size)

    def load() -> npt.NDArray[Any]:
        array: npt.NDArray[Any] = np.load(buffer, allow_pickle=False)
        return array

    states = []
    for item in header:
        vocabularies = tuple(tuple(str(unit) for unit in units) for units in item["vocabularies"])
        idf = tuple(load() for _ in vocabularies)
        if any(len(i) != len(v) for i, v in zip(idf, vocabularies, strict=True)):
            raise ValueError("vocabularies and idf disagree")
        data, indices, indptr = load(), load(), load()
        matrix = sparse.csr_matrix((data, indices, indptr), shape=tuple(item["shape"]))
        coef = intercept = None
        if item["linear"]:
            weights = sparse.csr_matrix((load(), load(), load()), shape=tuple(item["linear"]))
            coef, intercept = weights.toarray(), load()
        states.append(MatcherState(item["key"], vocabularies, idf, matrix, coef, intercept))
    return states
