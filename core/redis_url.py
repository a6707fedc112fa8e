"""``REDIS_URL`` schemes: one server, or a Sentinel-watched master, named in one string.

* ``redis://[user:pass@]host:port[/db]``, ``rediss://…`` (TLS), ``unix:///path/to.sock`` — one server;
* ``redis+sentinel://[user:pass@]s1:26379,s2:26379,s3:26379/mymaster[/db]`` (``rediss+sentinel://`` with
  TLS to the master) — the master that the sentinels at those addresses name ``mymaster``, followed
  through failovers. The user and password are the master's; the sentinels are asked without.
* ``redis+cluster://…`` — Redis Cluster: refused with a clear message until the engine supports it.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote

SENTINEL_SCHEMES = ("redis+sentinel://", "rediss+sentinel://")
CLUSTER_SCHEMES = ("redis+cluster://", "rediss+cluster://")
DEFAULT_SENTINEL_PORT = 26379


class RedisUrlError(ValueError):
    """A ``REDIS_URL`` that cannot be used; the message says what is wrong and what the form is."""


@dataclass(frozen=True)
class SentinelUrl:
    """Where the sentinels are, which master they watch, and how to talk to that master."""

    sentinels: tuple[tuple[str, int], ...]
    service: str
    db: int = 0
    username: str | None = None
    password: str | None = None
    tls: bool = False


def is_sentinel(url: str) -> bool:
    """Whether ``url`` names a Sentinel-watched master."""
    return url.startswith(SENTINEL_SCHEMES)


def parse_sentinel(url: str) -> SentinelUrl:
    """Parse a ``redis+sentinel://`` URL; raise RedisUrlError naming the problem."""
    form = "redis+sentinel://[user:pass@]host:port[,host:port…]/master-name[/db]"
    scheme, _, rest = url.partition("://")
    credentials, at, where = rest.rpartition("@")
    if not at:
        credentials, where = "", rest
    hosts, _, path = where.partition("/")
    parts = [p for p in path.split("/") if p]
    if not hosts or not parts or len(parts) > 2:
        raise RedisUrlError(f"REDIS_URL: give the sentinels and the master's name: {form}")
    sentinels = []
    for item in hosts.split(","):
        host, colon, port = item.rpartition(":")
        if not colon:
            host, port = item, str(DEFAULT_SENTINEL_PORT)
        if not host or not port.isdigit():
            raise RedisUrlError(f"REDIS_URL: {item!r} is not host:port ({form})")
        sentinels.append((host.strip("[]"), int(port)))
    if len(parts) == 2 and not parts[1].isdigit():
        raise RedisUrlError(f"REDIS_URL: the database must be a number, not {parts[1]!r} ({form})")
    user, colon, password = credentials.partition(":")
    if not colon:
        user, password = "", credentials
    return SentinelUrl(
        tuple(sentinels),
        unquote(parts[0]),
        int(parts[1]) if len(parts) == 2 else 0,
        unquote(user) or None,
        unquote(password) or None,
        scheme == "rediss+sentinel",
    )


def refuse_unsupported(url: str) -> None:
    """Raise RedisUrlError for a scheme the engine cannot use yet."""
    if url.startswith(CLUSTER_SCHEMES):
        raise RedisUrlError(
            "REDIS_URL: Redis Cluster (redis+cluster://) is not supported yet; use one server "
            "(redis://host:port/db) or a Sentinel-watched master (redis+sentinel://s1:26379,s2:26379/mymaster)"
        )
