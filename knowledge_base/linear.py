"""The linear signal's model: one classifier per entry, fitted on its phrasings and a sample of the rest."""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import sparse
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import SGDClassifier

FloatArray = npt.NDArray[np.float64]
# Tried on the dev sets: alpha 5e-5 and 2e-4, 30 epochs, hinge and log loss; 10/1,000 and 30/3,000
# negatives, 10 epochs (bench/RESULTS.md).
LINEAR: dict[str, Any] = {
    "loss": "modified_huber",
    "alpha": 1e-4,
    "epochs": 15,
    "near_entries": 20,
    "sampled": 2000,
}


def negatives(
    entry: int, similar: FloatArray, members: Sequence[npt.NDArray[np.int64]]
) -> npt.NDArray[np.int64]:
    """Return the phrasings one entry's classifier learns to reject: near entries' and a sample.

    Fitting every classifier on every phrasing made a 15,000-phrasing publish take 7 s. Confusions
    happen between similar entries, so all phrasings of the ``near_entries`` entries whose centroids
    are closest are kept, and ``sampled`` of the rest are drawn (seeded by the entry, so every
    instance fits the same weights) to keep far entries negative too. On the dev sets this matches
    the full fit's accuracy (bench/RESULTS.md) at a seventh of the time.
    """
    order = [int(e) for e in np.argsort(-similar, kind="stable") if e != entry]
    near, far = order[: LINEAR["near_entries"]], order[LINEAR["near_entries"] :]
    chosen = [members[e] for e in near]
    if far:
        rest = np.concatenate([members[e] for e in far])
        rng = np.random.default_rng(entry)
        chosen.append(np.sort(rng.choice(rest, size=min(LINEAR["sampled"], len(rest)), replace=False)))
    return np.concatenate(chosen) if chosen else np.array([], dtype=np.int64)


def fit_linear(
    matrix: sparse.csr_matrix, labels: npt.NDArray[np.int64], centroids: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Fit one modified-Huber classifier per entry; return features × entries weights and biases."""
    count = centroids.shape[1]
    members = [np.flatnonzero(labels == entry) for entry in range(count)]
    similar = centroids.T @ centroids

    def fit(entry: int) -> tuple[FloatArray, float]:
        rows = np.concatenate([members[entry], negatives(entry, similar[entry], members)])
        model = SGDClassifier(
            loss=LINEAR["loss"], alpha=LINEAR["alpha"], max_iter=LINEAR["epochs"], tol=None, random_state=0
        )
        with warnings.catch_warnings():
            # A fixed epoch budget is the point: a publish must answer everywhere within seconds.
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(matrix[rows], (labels[rows] == entry).astype(np.int64))
        return model.coef_[0], float(model.intercept_[0])

    # scikit-learn's SGD loop releases the GIL: one thread per core fits entries side by side.
    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        fitted = list(pool.map(fit, range(count)))
    coef = np.stack([weights for weights, _ in fitted], axis=1)
    return np.ascontiguousarray(coef), np.array([bias for _, bias in fitted])
