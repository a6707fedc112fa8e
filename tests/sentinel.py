"""A real Redis Sentinel deployment for a test: a master, a replica, three sentinels, on loopback ports.

Started from Debian's ``redis-server`` (``--sentinel`` for the sentinels), each in a folder of the
test's own; the master and the replica keep an AOF. `kill_master` SIGKILLs whichever server is master
now; `restart` brings a killed server back, and the sentinels make it a replica of the new master.
"""

from __future__ import annotations

import asyncio
import shutil
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

import redis.asyncio as aioredis

from tests.processes import free_port

SERVICE = "mymaster"
# The sentinels call a master down after a second without an answer; a failover then takes ~1-2 s.
DOWN_AFTER_MS = 1000


def redis_server() -> str:
    """Return Debian's redis-server (``make test`` installs it when missing)."""
    found = shutil.which("redis-server")
    if found is None:
        raise RuntimeError(
            "redis-server is not installed: run `make test` (it installs Debian's redis-server)"
        )
    return found


async def _ready(process: asyncio.subprocess.Process, what: str) -> None:
    """Wait for a server's "ready" line on its stdout (EOF: it died)."""
    assert process.stdout is not None
    while line := await process.stdout.readline():
        if b"ready to accept connections" in line.lower() or b"sentinel id is" in line.lower():
            asyncio.get_running_loop().create_task(_drain(process))
            return
    raise RuntimeError(f"{what} did not start")


async def _drain(process: asyncio.subprocess.Process) -> None:
    assert process.stdout is not None
    while await process.stdout.readline():
        pass


@dataclass
class Server:
    """One redis-server of the group (a master or a replica)."""

    port: int
    folder: Path
    replica_of: int | None = None
    process: asyncio.subprocess.Process | None = None
    extra: list[str] = field(default_factory=list)

    async def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        options = ["--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.folder), "--save", ""]
        options += ["--appendonly", "yes", "--appendfsync", "everysec", "--protected-mode", "no"]
        if self.replica_of is not None:
            options += ["--replicaof", "127.0.0.1", str(self.replica_of)]
        options += self.extra
        self.process = await asyncio.create_subprocess_exec(
            redis_server(), *options, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
        )
        await _ready(self.process, f"redis-server on {self.port}")

    async def kill(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGKILL)
            await self.process.wait()


@dataclass
class SentinelGroup:
    """Master + replica + three sentinels; `url` is what the engines are given as REDIS_URL."""

    folder: Path
    servers: list[Server] = field(default_factory=list)
    sentinels: list[asyncio.subprocess.Process] = field(default_factory=list)
    sentinel_ports: list[int] = field(default_factory=list)

    @property
    def url(self) -> str:
        hosts = ",".join(f"127.0.0.1:{p}" for p in self.sentinel_ports)
        return f"redis+sentinel://{hosts}/{SERVICE}/0"

    async def start(self) -> None:
        master = Server(free_port(), self.folder / "a")
        await master.start()
        replica = Server(free_port(), self.folder / "b", replica_of=master.port)
        await replica.start()
        self.servers = [master, replica]
        for i in range(3):
            port = free_port()
            config = self.folder / f"sentinel-{i}.conf"
            config.write_text(
                f"port {port}\nbind 127.0.0.1\ndir {self.folder}\n"
                f"sentinel monitor {SERVICE} 127.0.0.1 {master.port} 2\n"
                f"sentinel down-after-milliseconds {SERVICE} {DOWN_AFTER_MS}\n"
                f"sentinel failover-timeout {SERVICE} 10000\n"
                f"sentinel parallel-syncs {SERVICE} 1\n",
                encoding="utf-8",
            )
            process = await asyncio.create_subprocess_exec(
                redis_server(),
                str(config),
                "--sentinel",
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
            )
            await _ready(process, f"sentinel on {port}")
            self.sentinels.append(process)
            self.sentinel_ports.append(port)
        await self.settled(len(self.servers) - 1)

    async def master_port(self) -> int:
        """Ask a sentinel which port the master is on now."""
        for port in self.sentinel_ports:
            client = aioredis.Redis(host="127.0.0.1", port=port, decode_responses=True, socket_timeout=1)
            try:
                host_port = await client.execute_command("SENTINEL", "get-master-addr-by-name", SERVICE)  # type: ignore[no-untyped-call]
                return int(host_port[1])
            except Exception:
                continue
            finally:
                await client.close()
                await client.connection_pool.disconnect()
        raise RuntimeError("no sentinel answered")

    async def settled(self, replicas: int, timeout: float = 30.0) -> float:
        """Wait until the sentinels agree on a master with ``replicas`` replicas in sync; return seconds."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            try:
                port = await self.master_port()
                client = aioredis.Redis(host="127.0.0.1", port=port, decode_responses=True, socket_timeout=1)
                try:
                    info = await client.info("replication")
                    online = sum(
                        1
                        for k, v in info.items()
                        if k.startswith("slave") and isinstance(v, dict) and v.get("state") == "online"
                    )
                    if info.get("role") == "master" and online >= replicas:
                        seen = await client.execute_command("PING")  # type: ignore[no-untyped-call]
                        if seen:
                            return time.monotonic() - started
                finally:
                    await client.close()
                    await client.connection_pool.disconnect()
            except Exception:
                pass
            await asyncio.sleep(0.2)
        raise TimeoutError("the sentinel group did not settle")

    async def kill_master(self) -> Server:
        """SIGKILL the current master; return it (to restart later)."""
        port = await self.master_port()
        master = next(s for s in self.servers if s.port == port)
        await master.kill()
        return master

    async def restart(self, server: Server) -> None:
        """Start a killed server again: the sentinels turn it into a replica of the new master."""
        server.replica_of = None  # the sentinels reconfigure it themselves
        await server.start()

    async def stop(self) -> None:
        for process in self.sentinels:
            if process.returncode is None:
                process.send_signal(signal.SIGKILL)
                await process.wait()
        for server in self.servers:
            await server.kill()
