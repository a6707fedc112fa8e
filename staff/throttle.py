"""Login throttling: after a few wrong passwords an account, or an address, waits before it may try again.

Each failure after the allowance doubles the wait (1 s, 2 s, 4 s … up to `MAX_LOCK_SECONDS`); a success
clears the account's count. Per address the allowance is larger, since an office shares one address.
The counts live in Redis, so every instance behind the load balancer sees the same ones.
"""

from __future__ import annotations

import time

import redis.asyncio as aioredis

from core.keys import Keys

ACCOUNT_ALLOWANCE = 5
ADDRESS_ALLOWANCE = 20
MAX_LOCK_SECONDS = 15 * 60
# Failures are forgotten after this long without another one.
WINDOW_SECONDS = 15 * 60

# KEYS[1] the scope's hash; ARGV: now, allowance, max lock, window. Counts one failure and, past the
# allowance, sets the time until which the scope is locked. Returns the lock's length in seconds (0: none).
_FAIL = """
local n = redis.call('HINCRBY', KEYS[1], 'n', 1)
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[4]))
local over = n - tonumber(ARGV[2])
if over <= 0 then return 0 end
local lock = math.min(2 ^ (over - 1), tonumber(ARGV[3]))
redis.call('HSET', KEYS[1], 'until', tonumber(ARGV[1]) + lock)
return lock
"""


class LoginThrottle:
    """Counts failed logins per account and per address, and says how long to wait."""

    def __init__(self, client: aioredis.Redis[str], keys: Keys) -> None:
        """Keep the counts under ``keys``."""
        self.redis = client
        self.keys = keys
        self._fail = client.register_script(_FAIL)

    def _scopes(self, username: str, address: str) -> list[tuple[str, int]]:
        return [
            (self.keys.login_failures(f"user:{username[:64]}"), ACCOUNT_ALLOWANCE),
            (self.keys.login_failures(f"addr:{address[:64]}"), ADDRESS_ALLOWANCE),
        ]

    async def wait_seconds(self, username: str, address: str) -> float:
        """Return how long this account or address must still wait before trying (0: it may try now)."""
        now = time.time()
        async with self.redis.pipeline(transaction=False) as pipe:
            for key, _ in self._scopes(username, address):
                pipe.hget(key, "until")
            locks = await pipe.execute()
        return max([0.0] + [float(until) - now for until in locks if until])

    async def failed(self, username: str, address: str) -> None:
        """Count a wrong password for the account and the address."""
        now = time.time()
        for key, allowance in self._scopes(username, address):
            await self._fail(keys=[key], args=[now, allowance, MAX_LOCK_SECONDS, WINDOW_SECONDS])

    async def succeeded(self, username: str) -> None:
        """Forget the account's failures (the address keeps its own)."""
        await self.redis.delete(self.keys.login_failures(f"user:{username[:64]}"))
