"""What a build produced, stored as bytes for other instances: read back exactly, refused when unreadable."""

from __future__ import annotations

import numpy as np
import pytest

from knowledge_base.matcher import Matcher, Phrasing
from knowledge_base.state import MatcherState, states_from_bytes, states_to_bytes


def _built(features: str, topics: dict[str, str]) -> MatcherState:
    phrasings = [Phrasing(entry, f"{words} {i}") for entry, words in topics.items() for i in range(10)]
    return Matcher(phrasings, features=features).state()


def test_states_come_back_exactly_with_and_without_the_linear_model() -> None:
    topics = {"card": "when does my card arrive", "refund": "money back please", "pin": "reset pin"}
    english = _built("en", topics)
    chinese = _built("zh", {"退款": "退款多久到账", "发票": "怎么开发票"})
    assert english.coef is not None
    linearless = MatcherState(chinese.key, chinese.vocabularies, chinese.idf, chinese.vectors, None, None)
    # Through Latin-1 text, as the store sends it (the Redis client speaks text).
    blob = states_to_bytes([english, linearless]).decode("latin-1").encode("latin-1")
    back = states_from_bytes(blob)
    assert [s.key for s in back] == [english.key, chinese.key]
    for before, after in zip([english, linearless], back, strict=True):
        assert after.vocabularies == before.vocabularies
        assert all((a == b).all() for a, b in zip(after.idf, before.idf, strict=True))
        assert (after.vectors != before.vectors).nnz == 0
        assert after.vectors.shape == before.vectors.shape
    assert back[0].coef is not None
    assert english.intercept is not None
    assert back[0].intercept is not None
    assert np.array_equal(back[0].coef, english.coef)
    assert np.array_equal(back[0].intercept, english.intercept)
    assert back[1].coef is None
    assert "退" in {unit for units in back[1].vocabularies for unit in units}


_HEAD = b'[{"key": "k", "vocabularies": [["a"]], "shape": [1, 1], "linear": null}]'


@pytest.mark.parametrize(
    "blob",
    [b"", b'[{"key": "json of an older release"}]', b"KBSTATE1" + (len(_HEAD)).to_bytes(8, "big") + _HEAD],
    ids=["empty", "older format", "arrays missing"],
)
def test_an_unreadable_state_is_refused(blob: bytes) -> None:
    with pytest.raises((ValueError, KeyError, TypeError, EOFError)):
        states_from_bytes(blob)
