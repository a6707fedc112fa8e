"""A list of received API calls that tests can await, shared by every fake server."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer


@dataclass(frozen=True)
class Call:
    """One request a fake received: the API method and its decoded parameters."""

    method: str
    params: dict[str, Any]
    query: dict[str, str] = field(default_factory=dict)
    # The HTTP status the fake answered with (a played failure's, else 200).
    status: int = 200


class Recorder:
    """Keep calls in order and wake tests waiting for a particular one."""

    def __init__(self) -> None:
        """Start empty."""
        self.calls: list[Call] = []
        self._changed = asyncio.Event()
        # Responses to play instead of the normal one, per method, first in first out.
        self.failures: dict[str, list[tuple[int, dict[str, Any]]]] = {}

    def record(self, call: Call) -> None:
        """Add ``call`` and wake the waiters."""
        self.calls.append(call)
        self._changed.set()

    def fail_next(self, method: str, status: int, body: dict[str, Any], times: int = 1) -> None:
        """Answer the next ``times`` calls of ``method`` with ``status`` and ``body``."""
        self.failures.setdefault(method, []).extend([(status, body)] * times)

    def take_failure(self, method: str) -> tuple[int, dict[str, Any]] | None:
        """Return the next queued failure for ``method``, if any."""
        queued = self.failures.get(method)
        return queued.pop(0) if queued else None

    def of(self, method: str, match: Callable[[Call], bool] = lambda c: True) -> list[Call]:
        """Return the recorded calls of ``method`` that ``match``."""
        return [c for c in self.calls if c.method == method and match(c)]

    async def wait_for(
        self, method: str, match: Callable[[Call], bool] = lambda c: True, count: int = 1, timeout: float = 20
    ) -> list[Call]:
        """Wait until ``count`` calls of ``method`` matching ``match`` have arrived; return them."""

        async def until() -> list[Call]:
            while len(found := self.of(method, match)) < count:
                self._changed.clear()
                await self._changed.wait()
            return found

        return await asyncio.wait_for(until(), timeout)


async def start(app: web.Application) -> tuple[TestServer, str]:
    """Serve ``app`` on a free local port and return the server and its base URL."""
    server = TestServer(app)
    await server.start_server()
    return server, str(server.make_url("")).rstrip("/")
