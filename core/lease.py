"""A claim on one piece of work across instances: held while the work goes on, lapsing soon after a death.

One worker at a time may handle a conversation's inbound messages or send its pushes. The claim is a
Redis key holding the worker's token, with a short lifetime that the holder renews in the background
for as long as it works (a Rasa turn waiting on its lock, a model still loading, a send retried after
a platform's ``Retry-After``). A killed holder stops renewing, so another instance takes the work over
within one lifetime (seconds), never while the holder is still alive.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from types import TracebackType

from core.redis import AsyncRedis
from core.tasks import stop_tasks

log = logging.getLogger(__name__)

LEASE_MS = 10_000
# Renewed three times per lifetime: one slow Redis answer does not lose the claim.
RENEWALS_PER_LEASE = 3

# KEYS: lease. ARGV: token, lifetime (ms). Extends the lease only while this worker still holds it.
_RENEW_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""

# KEYS: lease. ARGV: token. Deletes the lease only while this worker still holds it.
_RELEASE_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class Lease:
    """``async with`` a held lease to keep it renewed; `lost` tells the worker to stop."""

    def __init__(self, client: AsyncRedis, key: str, lifetime_ms: int | None = None) -> None:
        """Claim ``key`` for ``lifetime_ms`` (default `LEASE_MS`) at a time."""
        self._redis = client
        self.key = key
        self.lifetime_ms = lifetime_ms or LEASE_MS
        self.token = uuid.uuid4().hex
        self.lost = False
        self._renewer: asyncio.Task[None] | None = None
        self._let_go = False
        self._renew = client.register_script(_RENEW_LUA)
        self._release = client.register_script(_RELEASE_LUA)

    async def acquire(self) -> bool:
        """Take the lease if nobody holds it; return whether this worker now holds it."""
        return bool(await self._redis.set(self.key, self.fresh_token(), nx=True, px=self.lifetime_ms))

    def fresh_token(self) -> str:
        """Start a new claim (for a script that takes the lease in its own round trip); return its token."""
        self.token = uuid.uuid4().hex
        self.lost = False
        self._let_go = False
        return self.token

    def let_go(self) -> None:
        """Note that a script already deleted the lease, so leaving the ``async with`` need not."""
        self._let_go = True

    async def _keep(self) -> None:
        interval = self.lifetime_ms / 1000 / RENEWALS_PER_LEASE
        while True:
            await asyncio.sleep(interval)
            try:
                held = await self._renew(keys=[self.key], args=[self.token, self.lifetime_ms])
            except asyncio.CancelledError:
                raise
            except Exception:
                # Redis trouble: try again next time; if it lasts, the lease lapses as after a death.
                log.warning("lease renewal failed", exc_info=True, extra={"lease": self.key})
                continue
            if not held:
                log.warning("lease lost to another worker", extra={"lease": self.key})
                self.lost = True
                return

    async def __aenter__(self) -> Lease:
        """Start renewing the lease taken by `acquire`."""
        self._renewer = asyncio.create_task(self._keep())
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        """Stop renewing and let the lease go (a failed release lapses by itself)."""
        if self._renewer is not None:
            await stop_tasks(self._renewer)
            self._renewer = None
        if self._let_go:
            return
        with contextlib.suppress(Exception):
            await self._release(keys=[self.key], args=[self.token])
