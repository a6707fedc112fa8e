"""Floods log a few lines, each with its count; a quiet spell lets the next one through."""

from __future__ import annotations

import logging

import pytest

from core.throttle import LogThrottle


def test_a_flood_logs_the_first_line_then_one_per_thousand(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="flood")
    log = logging.getLogger("flood")
    throttle = LogThrottle(every=1000, quiet_seconds=3600)
    for _ in range(2500):
        throttle.warning(log, "bad signature", extra={"remote": "203.0.113.9"})
    throttle.info(log, "duplicate dropped")  # another kind of line is counted apart
    lines = [(r.getMessage(), r.levelno, getattr(r, "seen", None)) for r in caplog.records]
    assert lines == [
        ("bad signature", logging.WARNING, 1),
        ("bad signature", logging.WARNING, 1001),
        ("bad signature", logging.WARNING, 2001),
        ("duplicate dropped", logging.INFO, 1),
    ]


def test_after_a_quiet_spell_the_next_line_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="quiet")
    log = logging.getLogger("quiet")
    throttle = LogThrottle(every=1000, quiet_seconds=0.0)
    for _ in range(3):
        throttle.warning(log, "stale timestamp")
    assert [getattr(r, "seen", None) for r in caplog.records] == [1, 2, 3]
