"""Move keys to the names a newer engine uses for them (a hash tag added for Redis Cluster)."""

from __future__ import annotations

from core.redis import AsyncRedis

# How long a finished pass is remembered. A pass SCANs the whole keyspace (seconds at a million keys, in every
# worker at every start: bench/RESULTS.md, start-up); once one finished, only an engine older than the tagged
# names writes the old ones, and a start after the marker lapses still moves those.
MOVED_TTL_SECONDS = 24 * 3600


async def copy_key(client: AsyncRedis, old: str, new: str) -> bool:
    """Copy a string, hash or sorted set with its lifetime; False when ``old`` is gone.

    Copied by type, not renamed: the two names may live in different Cluster slots.
    """
    # Another instance may move and delete ``old`` between these reads: an empty read means it is gone.
    kind = await client.type(old)  # type: ignore[no-untyped-call]
    if kind == "string":
        value = await client.get(old)
        if value is None:
            return False
        await client.set(new, value, nx=True)
    elif kind == "hash":
        fields: dict[str | bytes, str] = {}
        fields.update(await client.hgetall(old))
        if not fields:
            return False
        await client.hset(new, mapping=fields)
    elif kind == "zset":
        members: dict[str | bytes, float] = dict(await client.zrange(old, 0, -1, withscores=True))
        if not members:
            return False
        await client.zadd(new, members)
    elif kind == "none":
        return False
    else:
        raise TypeError(f"{old}: a key of type {kind} cannot be moved")
    ttl = int(await client.pttl(old))
    if ttl > 0:
        await client.pexpire(new, ttl)
    return True


async def move_prefixed(client: AsyncRedis, old_base: str, new_base: str) -> int:
    """Move every ``old_base:*`` key to ``new_base:*``; return how many were copied.

    A new key that exists already wins (another instance moved it, or one died after copying); the old
    copy goes either way, so running this again, or on several instances at once, is harmless.
    """
    moved = 0
    async for old in client.scan_iter(match=f"{old_base}:*", count=500):
        new = new_base + str(old)[len(old_base) :]
        if not await client.exists(new):
            moved += int(await copy_key(client, str(old), new))
        await client.delete(old)
    return moved


async def move_prefixed_once(client: AsyncRedis, old_base: str, new_base: str) -> int:
    """Run `move_prefixed` unless a pass finished within `MOVED_TTL_SECONDS`; return how many were copied."""
    # Not under ``old_base:``, so the pass never moves its own marker.
    done = f"{old_base}~moved"
    if await client.exists(done):
        return 0
    moved = await move_prefixed(client, old_base, new_base)
    await client.set(done, "1", ex=MOVED_TTL_SECONDS)
    return moved
