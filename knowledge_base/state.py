"""What building a matcher produced, shared with its version so other instances load it, not rebuild."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass

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
