"""Stopping background tasks that lose a cancellation the way redis-py 4.6's connection check does."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import async_timeout
import pytest

from core.tasks import stop_tasks


async def _listener(swallowed: asyncio.Event) -> None:
    """Run redis-py's zero-timeout connection check, then wait on a silent subscription."""
    try:
        async with async_timeout.timeout(0):
            await asyncio.sleep(1)
    except asyncio.TimeoutError:
        swallowed.set()  # a cancel() that arrived here was taken for the timeout
    await asyncio.Event().wait()


async def _cancelled_inside_the_check() -> tuple[asyncio.Task[None], asyncio.Event]:
    swallowed = asyncio.Event()
    task = asyncio.create_task(_listener(swallowed))
    # Our cancel() runs right after the task's first step (inside the check, timeout callback not yet
    # run): the timeout's own cancel then merges with ours and the one CancelledError becomes its timeout.
    asyncio.get_running_loop().call_soon(task.cancel)
    await asyncio.sleep(0.05)
    return task, swallowed


async def test_one_cancel_can_be_lost_inside_the_connection_check() -> None:
    task, swallowed = await _cancelled_inside_the_check()
    assert swallowed.is_set()
    assert not task.done()  # cancelled, yet still listening: what hung LiveKnowledgeBase.stop() in CI
    await stop_tasks(task)
    assert task.cancelled()


async def test_stop_tasks_cancels_again_until_the_task_has_ended(caplog: pytest.LogCaptureFixture) -> None:
    lost = 0

    async def loses_two_cancels() -> None:
        nonlocal lost
        while True:
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                lost += 1
                if lost > 2:
                    raise

    task = asyncio.create_task(loses_two_cancels())
    quiet = asyncio.create_task(asyncio.sleep(3600))
    await asyncio.sleep(0)
    with caplog.at_level(logging.WARNING, logger="core.tasks"):
        await asyncio.wait_for(stop_tasks(task, quiet), 5)
    assert task.cancelled()
    assert quiet.cancelled()
    assert lost == 3
    assert caplog.text.count("ignored its cancellation") == 2


async def test_stop_tasks_logs_a_failure_unless_it_was_expected(caplog: pytest.LogCaptureFixture) -> None:
    async def fails() -> None:
        raise ConnectionResetError("socket gone")

    for expected, logged in (((), True), ((ConnectionResetError,), False)):
        task = asyncio.create_task(fails())
        with contextlib.suppress(ConnectionResetError):
            await asyncio.wait_for(asyncio.shield(task), 1)
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="core.tasks"):
            await stop_tasks(task, expected=expected)
        assert ("had failed" in caplog.text) is logged
