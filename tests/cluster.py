"""A real Redis Cluster for a test: three masters and three replicas on loopback ports.

Started from Debian's ``redis-server`` (``--cluster-enabled yes``), each in a folder of the test's own,
and joined with ``redis-cli --cluster create … --cluster-replicas 1``, as an operator would. `kill_master`
SIGKILLs the master of a slot; its replica is promoted after the node timeout.
"""

from __future__ import annotations

import asyncio
import random
import shutil
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path

import redis.asyncio as aioredis

from tests.sentinel import Server

# A master is failed over after this long without an answer (the replica's election adds ~1 s).
NODE_TIMEOUT_MS = 2000


def redis_cli() -> str:
    """Return Debian's redis-cli (it comes with redis-server, which ``make test`` installs)."""
    found = shutil.which("redis-cli")
    if found is None:
        raise RuntimeError("redis-cli is not installed: run `make test` (it installs Debian's redis-server)")
    return found


def cluster_port() -> int:
    """Return a free port whose cluster-bus port (+10000) is free too; a node's port must be ≤ 55535."""
    for _ in range(200):
        port = random.randint(20000, 45000)
        try:
            for candidate in (port, port + 10000):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", candidate))
        except OSError:
            continue
        return port
    raise RuntimeError("no free port pair for a cluster node")


async def _node(port: int) -> aioredis.Redis:  # type: ignore[type-arg]
    return aioredis.Redis(host="127.0.0.1", port=port, decode_responses=True, socket_timeout=2)


@dataclass
class ClusterGroup:
    """Three masters + three replicas; `url` is what the engines are given as REDIS_URL."""

    folder: Path
    servers: list[Server] = field(default_factory=list)

    @property
    def url(self) -> str:
        # Two seed nodes are enough: the client discovers the rest from either.
        return "redis+cluster://" + ",".join(f"127.0.0.1:{s.port}" for s in self.servers[:2])

    async def start(self) -> None:
        options = ["--cluster-enabled", "yes", "--cluster-node-timeout", str(NODE_TIMEOUT_MS)]
        for i in range(6):
            server = Server(cluster_port(), self.folder / f"n{i}", extra=options)
            await server.start()
            self.servers.append(server)
        create = await asyncio.create_subprocess_exec(
            redis_cli(),
            "--cluster",
            "create",
            *(f"127.0.0.1:{s.port}" for s in self.servers),
            "--cluster-replicas",
            "1",
            "--cluster-yes",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await create.communicate()
        if create.returncode != 0:
            raise RuntimeError("redis-cli --cluster create failed:\n" + output.decode(errors="replace"))
        await self.settled()

    async def settled(self, timeout: float = 30.0) -> float:
        """Wait until every live node reports the cluster ok with three masters; return seconds."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if await self._all_ok():
                return time.monotonic() - started
            await asyncio.sleep(0.2)
        raise TimeoutError("the cluster did not settle")

    async def _all_ok(self) -> bool:
        for server in self.servers:
            if server.process is None or server.process.returncode is not None:
                continue
            client = await _node(server.port)
            try:
                info = await client.cluster("INFO")
                if info.get("cluster_state") != "ok" or int(info.get("cluster_size", 0)) != 3:
                    return False
            except Exception:
                return False
            finally:
                await client.close()
                await client.connection_pool.disconnect()
        return True

    async def master_of(self, key: str) -> Server:
        """Return the server that is master for ``key``'s slot now."""
        for server in self.servers:
            if server.process is None or server.process.returncode is not None:
                continue
            client = await _node(server.port)
            try:
                slot = int(await client.execute_command("CLUSTER", "KEYSLOT", key))  # type: ignore[no-untyped-call]
                for start, end, master, *_ in await client.execute_command("CLUSTER", "SLOTS"):  # type: ignore[no-untyped-call]
                    if start <= slot <= end:
                        port = int(master[1])
                        return next(s for s in self.servers if s.port == port)
            except Exception:
                continue
            finally:
                await client.close()
                await client.connection_pool.disconnect()
        raise RuntimeError("no node answered")

    async def kill_master(self, key: str) -> Server:
        """SIGKILL the master of ``key``'s slot; return it."""
        master = await self.master_of(key)
        await master.kill()
        return master

    async def failed_over(self, key: str, dead: Server, timeout: float = 30.0) -> None:
        """Wait until another node is master of ``key``'s slot and the live nodes call the cluster ok."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            try:
                if (await self.master_of(key)).port != dead.port and await self._all_ok():
                    return
            except RuntimeError:
                pass  # no node answered yet
            await asyncio.sleep(0.1)
        raise TimeoutError(f"no replica took over {key!r} from the killed master on {dead.port}")

    async def stop(self) -> None:
        for server in self.servers:
            await server.kill()
