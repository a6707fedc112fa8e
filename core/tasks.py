"""Stop background tasks for certain, even when a library swallowed the cancellation.

redis-py 4.6 (the last release Rasa 3.6 allows) checks every pooled connection with a zero
``async_timeout``. On Python 3.10 a ``cancel()`` that lands in that check is taken for the timeout and
lost (redis/redis-py#2551), so a listener told to stop goes back to waiting on its subscription for
ever. One cancellation is therefore not enough: cancel until the task has really ended.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

log = logging.getLogger(__name__)

RETRY_SECONDS = 0.5


async def stop_tasks(*tasks: asyncio.Task[Any], expected: tuple[type[BaseException], ...] = ()) -> None:
    """Cancel ``tasks`` and return once every one has ended; log failures other than ``expected``."""
    pending = {task for task in tasks if not task.done()}
    while pending:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=RETRY_SECONDS)
        if pending:
            log.warning("a task ignored its cancellation; cancelling it again", extra={"tasks": len(pending)})
    for task in tasks:
        if task.cancelled():
            continue
        error = task.exception()
        if error is not None and not isinstance(error, expected):
            log.warning("a background task had failed before it was stopped", exc_info=error)
