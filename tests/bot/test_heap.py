"""Settling the heap: garbage collected first, survivors frozen, a later settle frees what died since."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from bot import heap


class _Node:
    """An object in a reference cycle with itself, which only the cyclic collector can free."""

    def __init__(self) -> None:
        self.me = self


def _in_walked_generations(target: object) -> bool:
    return any(o is target for o in gc.get_objects())


@pytest.fixture
def unfrozen() -> Iterator[None]:
    yield
    gc.unfreeze()


@pytest.mark.usefixtures("unfrozen")
def test_settle_frees_cycles_before_freezing_and_the_next_settle_frees_frozen_ones_that_died() -> None:
    garbage = _Node()
    collected = weakref.ref(garbage)
    del garbage
    live = _Node()
    heap.settle()
    assert collected() is None, "garbage at the settle was frozen instead of collected"
    assert gc.is_tracked(live)
    assert not _in_walked_generations(live), "a live object was not frozen"
    frozen = weakref.ref(live)
    del live
    gc.collect()
    assert frozen() is not None, "full collections walk frozen objects (nothing would be saved)"
    heap.settle()
    assert frozen() is None, "a frozen cycle that died stayed for the life of the process"
