"""What every fuzz test shares: bounded, repeatable hypothesis runs; no 5xx; no traceback in the log.

The examples derive from a fixed seed so a CI run is repeatable; ``FUZZ_EXAMPLES`` (per operation or
per webhook) and ``FUZZ_SEED=random`` run deeper or wider by hand.
"""

from __future__ import annotations

import logging
import os
import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import requests
from hypothesis import HealthCheck, seed, settings

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "25"))
_SEED = os.environ.get("FUZZ_SEED", "2026")
SEED = random.randrange(2**32) if _SEED == "random" else int(_SEED)


class _Tracebacks(logging.Handler):
    """Collects every log record that carries a traceback (an unexpected exception), and counts the rest."""

    def __init__(self, counted: str) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.counted = counted
        self.warnings = 0

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.WARNING and record.name.startswith(self.counted):
            self.warnings += 1
        if record.exc_info and record.levelno >= logging.WARNING:
            self.records.append(record)


@contextmanager
def no_tracebacks(max_warnings: int | None = None, counted: str = "channels") -> Iterator[None]:
    """Fail if anything logged a traceback inside the block, or ``counted`` loggers over ``max_warnings``."""
    seen = _Tracebacks(counted)
    root = logging.getLogger()
    root.addHandler(seen)
    try:
        yield
    finally:
        root.removeHandler(seen)
    assert not seen.records, [
        f"{r.name}: {r.getMessage()} ({r.exc_info[1]!r})" for r in seen.records if r.exc_info
    ]
    if max_warnings is not None:
        assert seen.warnings <= max_warnings, (
            f"{seen.warnings} warnings from {counted}: a flood floods the log"
        )


def fuzzed(examples: int = EXAMPLES) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Hypothesis settings for a fuzz run: bounded, repeatable, no example database on disk."""

    def wrap(test: Callable[..., None]) -> Callable[..., None]:
        test = settings(
            max_examples=examples,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
            print_blob=True,
        )(test)
        return seed(SEED)(test)

    return wrap


def below_500(response: requests.Response, what: str) -> None:
    """Fail with what was sent and what came back when ``response`` is a server error."""
    assert response.status_code < 500, f"{what}: {response.status_code} {response.text[:300]}"
