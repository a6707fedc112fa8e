"""Run one of our commands as a real process for a test, and wait until it answers its health check."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest


def free_port() -> int:
    """Return a TCP port nobody listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@asynccontextmanager
async def serving(
    command: Sequence[str], env: Mapping[str, str], health_url: str, log_path: Path, start_seconds: float
) -> AsyncIterator[asyncio.subprocess.Process]:
    """Start ``command``; yield once ``health_url`` answers 200; kill it (if still alive) afterwards."""
    log = log_path.open("wb")
    process = await asyncio.create_subprocess_exec(*command, env=dict(env), stdout=log, stderr=log)
    try:
        async with aiohttp.ClientSession() as http:
            deadline = time.monotonic() + start_seconds
            while True:
                if process.returncode is not None or time.monotonic() > deadline:
                    said = await asyncio.to_thread(log_path.read_text)
                    pytest.fail(f"{command[0]} did not start: {said[-2000:]}")
                try:
                    async with http.get(health_url) as response:
                        if response.status == 200:
                            break
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.5)
        yield process
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()
        log.close()
