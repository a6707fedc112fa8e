"""What building a matcher produced, shared with its version so other instances load it, not rebuild."""

from __future__ import annotations

import base64
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


def _npy(array: np.ndarray[Any, Any]) -> str:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return base64.b64encode(buffer.getvalue()).decode()


def _from_npy(text: str) -> npt.NDArray[Any]:
    loaded: npt.NDArray[Any] = np.load(io.BytesIO(base64.b64decode(text)), allow_pickle=False)
    return loaded


def state_to_json(state: MatcherState) -> dict[str, Any]:
    """Return a state as JSON-ready data (arrays as .npy in base64: the Redis client speaks text)."""
    vectors = state.vectors
    return {
        "key": state.key,
        "vocabularies": [list(units) for units in state.vocabularies],
        "idf": [_npy(idf) for idf in state.idf],
        "vectors": {
            "shape": list(vectors.shape),
            "data": _npy(vectors.data),
            "indices": _npy(vectors.indices),
            "indptr": _npy(vectors.indptr),
        },
        "coef": _npy(state.coef) if state.coef is not None else None,
        "intercept": _npy(state.intercept) if state.intercept is not None else None,
    }


def state_from_json(item: dict[str, Any]) -> MatcherState:
    """Return the state `state_to_json` wrote; raise ValueError (or KeyError, TypeError) if unreadable."""
    vectors = item["vectors"]
    matrix = sparse.csr_matrix(
        (_from_npy(vectors["data"]), _from_npy(vectors["indices"]), _from_npy(vectors["indptr"])),
        shape=tuple(vectors["shape"]),
    )
    vocabularies = tuple(tuple(str(unit) for unit in units) for units in item["vocabularies"])
    idf = tuple(_from_npy(text) for text in item["idf"])
    if len(idf) != len(vocabularies) or any(len(i) != len(v) for i, v in zip(idf, vocabularies, strict=True)):
        raise ValueError("vocabularies and idf disagree")
    coef = _from_npy(item["coef"]) if item["coef"] is not None else None
    intercept = _from_npy(item["intercept"]) if item["intercept"] is not None else None
    return MatcherState(item["key"], vocabularies, idf, matrix, coef, intercept)
