"""``REDIS_URL`` schemes: one server, a Sentinel-watched master, or a Redis Cluster, named in one string.

* ``redis://[user:pass@]host:port[/db]``, ``rediss://…`` (TLS), ``unix:///path/to.sock`` — one server;
* ``redis+sentinel://[user:pass@]s1:26379,s2:26379,s3:26379/mymaster[/db]`` (``rediss+sentinel://`` with
  TLS to the master) — the master that the sentinels at those addresses name ``mymaster``, followed
  through failovers. The user and password are the master's; the sentinels are asked without.
* ``redis+cluster://[user:pass@]n1:7000,n2:7001`` (``rediss+cluster://`` with TLS) — a Redis Cluster found
  from those seed nodes (any two of its nodes will do); a cluster has database 0 only.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote

SENTINEL_SCHEMES = ("redis+sentinel://", "rediss+sentinel://")
CLUSTER_SCHEMES = ("redis+cluster://", "rediss+cluster://")
DEFAULT_SENTINEL_PORT = 26379
DEFAULT_CLUSTER_PORT = 6379


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


@dataclass(frozen=True)
class ClusterUrl:
    """The seed nodes of a Redis Cluster and how to talk to its nodes."""

    nodes: tuple[tuple[str, int], ...]
    username: str | None = None
    password: str | None = None
    tls: bool = False


def is_sentinel(url: str) -> bool:
    """Whether ``url`` names a Sentinel-watched master."""
    return url.startswith(SENTINEL_SCHEMES)


def is_cluster(url: str) -> bool:
    """Whether ``url`` names a Redis Cluster."""
    return url.startswith(CLUSTER_SCHEMES)


def _split(url: str) -> tuple[str, str | None, str | None, str, str]:
    """Split ``scheme://[user:pass@]hosts[/path]`` into scheme, user, password, hosts and path."""
    scheme, _, rest = url.partition("://")
    credentials, at, where = rest.rpartition("@")
    if not at:
        credentials, where = "", rest
    hosts, _, path = where.partition("/")
    user, colon, password = credentials.partition(":")
    if not colon:
        user, password = "", credentials
    return scheme, unquote(user) or None, unquote(password) or None, hosts, path


def _hosts(hosts: str, default_port: int, form: str) -> tuple[tuple[str, int], ...]:
    found = []
    for item in hosts.split(","):
        host, colon, port = item.rpartition(":")
        if not colon:
            host, port = item, str(default_port)
        if not host or not port.isdigit():
            raise RedisUrlError(f"REDIS_URL: {item!r} is not host:port ({form})")
        found.append((host.strip("[]"), int(port)))
    return tuple(found)


def parse_sentinel(url: str) -> SentinelUrl:
    """Parse a ``redis+sentinel://`` URL; raise RedisUrlError naming the problem."""
    form = "redis+sentinel://[user:pass@]host:port[,host:port…]/master-name[/db]"
    scheme, user, password, hosts, path = _split(url)
    parts = [p for p in path.split("/") if p]
    if not hosts or not parts or len(parts) > 2:
        raise RedisUrlError(f"REDIS_URL: give the sentinels and the master's name: {form}")
    sentinels = _hosts(hosts, DEFAULT_SENTINEL_PORT, form)
    if len(parts) == 2 and not parts[1].isdigit():
        raise RedisUrlError(f"REDIS_URL: the database must be a number, not {parts[1]!r} ({form})")
    db = int(parts[1]) if len(parts) == 2 else 0
    return SentinelUrl(sentinels, unquote(parts[0]), db, user, password, scheme == "rediss+sentinel")


def parse_cluster(url: str) -> ClusterUrl:
    """Parse a ``redis+cluster://`` URL; raise RedisUrlError naming the problem."""
    form = "redis+cluster://[user:pass@]host:port[,host:port…]"
    scheme, user, password, hosts, path = _split(url)
    if not hosts:
        raise RedisUrlError(f"REDIS_URL: give at least one node of the cluster: {form}")
    if path.strip("/") not in ("", "0"):
        raise RedisUrlError(f"REDIS_URL: a Redis Cluster has database 0 only, not {path!r} ({form})")
    return ClusterUrl(_hosts(hosts, DEFAULT_CLUSTER_PORT, form), user, password, scheme == "rediss+cluster")
