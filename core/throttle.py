"""Log lines for what can come in floods (forged webhooks, retries, refusals): the first, then a few.

A bad signature is worth a warning; ten thousand forged requests a minute are worth a handful of lines,
each saying how many were seen, not ten thousand lines that bury everything else and fill the disk.
Each kind of line (its logger and message) is logged the first time, then once per `EVERY` occurrences
or once per `QUIET_SECONDS`, whichever comes first; the line carries ``seen``, the count so far.
"""

from __future__ import annotations

import logging
import time
from typing import Any

EVERY = 1000
QUIET_SECONDS = 60.0


class LogThrottle:
    """Counts each kind of line and lets through the first, every `EVERY`th, and one a minute."""

    def __init__(self, every: int = EVERY, quiet_seconds: float = QUIET_SECONDS) -> None:
        """Let a line through once per ``every`` occurrences or per ``quiet_seconds``."""
        self.every = every
        self.quiet_seconds = quiet_seconds
        self._seen: dict[tuple[str, str], tuple[int, float]] = {}

    def log(
        self,
        logger: logging.Logger,
        level: int,
        message: str,
        *args: Any,
        extra: dict[str, Any] | None = None,
    ) -> None:
        """Log ``message`` (with ``args``) at ``level`` unless a line of its kind was logged just now."""
        key = (logger.name, message)
        count, last = self._seen.get(key, (0, 0.0))
        count += 1
        now = time.monotonic()
        if count % self.every == 1 or self.every == 1 or now - last >= self.quiet_seconds:
            logger.log(level, message, *args, extra={**(extra or {}), "seen": count})
            last = now
        self._seen[key] = (count, last)

    def warning(
        self, logger: logging.Logger, message: str, *args: Any, extra: dict[str, Any] | None = None
    ) -> None:
        """`log` at WARNING."""
        self.log(logger, logging.WARNING, message, *args, extra=extra)

    def info(
        self, logger: logging.Logger, message: str, *args: Any, extra: dict[str, Any] | None = None
    ) -> None:
        """`log` at INFO."""
        self.log(logger, logging.INFO, message, *args, extra=extra)


# One per process: every webhook and the intake share it, so a flood is counted wherever it lands.
throttled = LogThrottle()
