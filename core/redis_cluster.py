"""The engine's Redis Cluster client: redis-py's, plus what the engine uses that redis-py 4.6 leaves out.

redis-py 4.6's asyncio cluster client has no pub/sub, no ``publish``, and refuses transactions. The
engine needs all three, and Redis Cluster offers them:

* ``MULTI``/``WATCH`` work on one node when every key hashes to one slot; the engine's transactions name
  that slot (``pipeline(transaction=True, shard_hint=key)``) and run on a plain connection to the
  slot's master. A transaction over keys of several slots is refused by the server (CROSSSLOT): that is
  how the cluster tests find a key family without its hash tag.
* ``PUBLISH`` on any node reaches subscribers on every node (the cluster bus carries it), so
  subscribers hold a plain connection to one node, picked again when it is lost;
* a message and the ``WAIT`` that follows it must share a connection, so `node_client` hands out a plain
  client for the slot's master.

The per-node clients follow the topology the cluster client knows: after a failover its next command
learns the new master, and the next transaction or ``WAIT`` goes there.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

import redis.asyncio as aioredis
from redis.asyncio.cluster import ClusterPipeline, RedisCluster
from redis.exceptions import ConnectionError, RedisClusterException, TimeoutError, TryAgainError

if TYPE_CHECKING:
    from redis.asyncio.client import PubSub
    from redis.asyncio.cluster import ClusterNode


class EngineCluster(RedisCluster):  # type: ignore[type-arg]
    """A RedisCluster with slot-bound transactions, ``publish`` and ``pubsub`` (see the module)."""

    def __init__(self, node_options: dict[str, Any], **kwargs: Any) -> None:
        """Build the cluster client; ``node_options`` configure the plain per-node clients."""
        super().__init__(**kwargs)
        self._node_options = node_options
        self._node_clients: dict[str, aioredis.Redis] = {}  # type: ignore[type-arg]

    def _client_for(self, node: ClusterNode) -> aioredis.Redis:  # type: ignore[type-arg]
        client = self._node_clients.get(node.name)
        if client is None:
            client = aioredis.Redis(host=node.host, port=int(node.port), **self._node_options)
            self._node_clients[node.name] = client
        return client

    async def node_client(self, key: str) -> aioredis.Redis:  # type: ignore[type-arg]
        """Return a plain client for the master that serves ``key``'s slot now."""
        await self.initialize()  # a no-op once the topology is known
        node = self.get_node_from_key(key)
        if node is None:  # pragma: no cover - only for replica=True
            raise RedisClusterException(f"no node serves {key!r}")
        return self._client_for(node)

    def pipeline(self, transaction: Any | None = None, shard_hint: Any | None = None) -> Any:
        """Return a cluster pipeline, or a transaction on the master of ``shard_hint``'s slot."""
        if transaction:
            if not shard_hint:
                raise RedisClusterException("a transaction on a cluster must name its slot (shard_hint=key)")
            return _SlotTransaction(self, str(shard_hint))
        return EnginePipeline(self)

    async def publish(self, channel: str, message: str) -> int:
        """Publish on any node: the cluster bus carries it to subscribers on every node."""
        result = await self.execute_command("PUBLISH", channel, message, target_nodes=RedisCluster.RANDOM)
        return int(result)

    def pubsub(self) -> PubSub:
        """Return a pub/sub on a plain connection to one node, chosen at random among the masters.

        A subscriber whose node is lost asks again (the engine's listeners do), and gets another node.
        """
        known = self.nodes_manager.startup_nodes if self._initialize else None  # type: ignore[attr-defined]
        nodes = list(known.values()) if known else self.get_primaries()
        return self._client_for(random.choice(nodes)).pubsub()

    async def close_all(self) -> None:
        """Close the cluster's connections and the plain per-node clients (the client's final close).

        Not `close`: redis-py calls that itself to forget the topology after a connection error, and the
        subscribers and transactions on the other nodes' plain clients must not be cut by it.
        """
        clients, self._node_clients = list(self._node_clients.values()), {}
        for client in clients:
            await client.close()
            await client.connection_pool.disconnect()
        await self.close()


class _SlotTransaction:
    """``async with cluster.pipeline(transaction=True, shard_hint=key)``: MULTI on the slot's master."""

    def __init__(self, cluster: EngineCluster, key: str) -> None:
        self._cluster, self._key = cluster, key
        self._pipe: Any = None

    async def __aenter__(self) -> Any:
        client = await self._cluster.node_client(self._key)
        self._pipe = client.pipeline(transaction=True)
        return await self._pipe.__aenter__()

    async def __aexit__(self, kind: Any, exc: BaseException | None, tb: Any) -> None:
        await self._pipe.__aexit__(kind, exc, tb)
        moved = exc is not None and "MOVED" in str(exc)
        if moved or isinstance(exc, (ConnectionError, TimeoutError)):
            # The node was lost or no longer serves the slot: forget the topology, as redis-py does for
            # its own commands, so the next call (the platform's retry) learns the new master.
            await self._cluster.close()
        if moved:
            raise TryAgainError("the slot moved to another node; retry") from exc


class EnginePipeline(ClusterPipeline):  # type: ignore[type-arg]
    """A cluster pipeline that can also ``publish`` and run scripts by their SHA."""

    def evalsha(self, sha: str, numkeys: int, *keys_and_args: Any) -> EnginePipeline:
        """Queue a script call; it goes to its keys' slot (redis-py 4.6 blocks this in cluster pipelines).

        A node that does not know the script answers NOSCRIPT for that call only; callers load it and retry.
        """
        self.execute_command("EVALSHA", sha, numkeys, *keys_and_args)
        return self

    def publish(self, channel: str, message: str) -> EnginePipeline:
        """Queue a PUBLISH on the node of the last keyed command, so it goes out after that command."""
        target: Any = RedisCluster.RANDOM
        stack: list[Any] = self._command_stack  # type: ignore[attr-defined]
        for command in reversed(stack):
            if len(command.args) > 1 and command.args[0] != "PUBLISH":
                target = self._client.get_node_from_key(str(command.args[1]))  # type: ignore[attr-defined]
                break
        self.execute_command("PUBLISH", channel, message, target_nodes=target)
        return self
