"""Handoff benchmark, part 2: full enqueue→assign→accept→close cycles, and agent-reply delivery.

    .venv/bin/python -m bench.handoff_cycle [--waiting 10000] [--agents 5,20,50,200] [--seconds 10]
                                            [--capacity 5] [--customers 20] [--replies 500] [--rate 50]

Uses REDIS_URL when set, otherwise an embedded Redis; keys live under a random prefix and are deleted.
Prints redis-benchmark figures from the same machine and run first, for scale.

4. cycles: ``--waiting`` conversations wait; for each count in ``--agents``, that many agents
   (``--capacity`` slots each) come online and work the backlog for ``--seconds`` as the console does:
   accept each offer (QUEUED → AGENT), close it (AGENT → CLOSED, which frees the slot and offers the
   next waiting one), with no time spent talking. Throughput = cycles per second.
5. reply delivery: one engine (``bot.app.create_app``, no model needed) serves the agent API and the web
   chat; ``--customers`` web chat customers are each held by an agent; agents post ``--replies`` replies
   at ``--rate`` per second through ``POST /api/agent/conversations/{c}/messages``. Latency: from the
   request's start to the reply frame arriving on the customer's WebSocket.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import socket
import tempfile
import time
import uuid
from dataclasses import replace
from pathlib import Path

import aiohttp
from aiohttp import web

from bench.handoff_queue import drop_keys, percentiles, redis_benchmark
from bot.app import create_app
from bot.appkeys import HANDOFF, REDIS, STATES
from bot.settings import Settings
from core.keys import Keys
from core.redis import EmbeddedRedis, async_client, close_async
from core.state import ConversationStates, IllegalTransition, Owner
from handoff.queue import HandoffQueue, QueueSettings
from staff.accounts import Accounts
from staff.auth import ACCOUNTS

PASSWORD = "bench-password-123"


async def cycles(url: str, waiting: int, agents: int, capacity: int, seconds: float) -> None:
    """Phase 4: work a backlog with accept + close for ``seconds``, as agents in the console would."""
    client = async_client(url)
    prefix = "bench" + uuid.uuid4().hex[:8]
    states = ConversationStates(client, Keys(prefix))
    queue = HandoffQueue(client, prefix, states, QueueSettings(heartbeat_ttl_seconds=600))
    try:
        for i in range(agents):
            await queue.upsert_agent(f"a{i}", f"Agent {i}", ["support"], capacity)
        for i in range(waiting):
            await states.transition(f"w:{i}", Owner.QUEUED, actor="bench", reason="bench")
            await queue.enqueue(f"w:{i}", team="support", tier="vip" if i % 10 == 0 else "regular")
        done = 0
        # Each agent waits for its routing events as the console does (pub/sub), not by polling.
        woken = {f"a{i}": asyncio.Event() for i in range(agents)}
        pubsub = client.pubsub()
        await pubsub.psubscribe(queue.events_channel("*"))

        async def listen() -> None:
            async for message in pubsub.listen():
                if message.get("type") == "pmessage":
                    woken[str(message["channel"]).rsplit(":", 1)[1]].set()

        listener = asyncio.create_task(listen())

        deadline = 0.0

        async def work(agent: str) -> None:
            nonlocal done
            while time.perf_counter() < deadline:
                woken[agent].clear()
                mine = await queue.conversations_of(agent)
                if not mine:
                    if not await client.zcard(f"{prefix}:{{hq}}:queue:support"):
                        return
                    # Another agent's close may offer us the next one; look again now and then.
                    with contextlib.suppress(asyncio.TimeoutError):
                        await asyncio.wait_for(woken[agent].wait(), 0.5)
                    continue
                for conversation in mine:
                    ticket = await queue.ticket(conversation)
                    if ticket is None:
                        continue
                    if ticket.status == "offered" and not await queue.accept(agent, conversation):
                        continue
                    try:
                        await states.transition(
                            conversation,
                            Owner.CLOSED,
                            actor=f"agent:{agent}",
                            reason="bench",
                            expected=Owner.AGENT,
                        )
                    except IllegalTransition:
                        continue
                    # Frees the slot and offers this agent the next waiting conversation.
                    await queue.finish(conversation, agent, handled_seconds=60.0)
                    done += 1

        started = time.perf_counter()
        deadline = started + seconds
        await asyncio.gather(*(queue.set_status(f"a{i}", "online") for i in range(agents)))
        await asyncio.gather(*(work(f"a{i}") for i in range(agents)))
        elapsed = time.perf_counter() - started
        listener.cancel()
        await pubsub.punsubscribe()
        print(
            f"4. full cycles, {agents} agents × {capacity} slots, {waiting} waiting: {done} offered → "
            f"accepted → closed in {elapsed:.2f} s = {done / elapsed:.0f} cycles/s"
        )
    finally:
        await drop_keys(client, prefix)
        await close_async(client)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def reply_delivery(url: str, customers: int, replies: int, rate: float, var_dir: Path) -> None:
    """Phase 5: agent reply → the customer's web chat socket, through a real engine."""
    prefix = "bench" + uuid.uuid4().hex[:8]
    port = _free_port()
    settings = replace(
        Settings.from_env({}),
        port=port,
        redis_url=url,
        redis_prefix=prefix,
        var_dir=var_dir,
        model_path=var_dir / "no-model.tar.gz",  # the agent API and the web chat need no model
        cookie_secure=False,
        log_level="WARNING",
    )
    # No model on purpose: quiet the engine's "model failed to load" report (it is expected here).
    logging.getLogger("bot.app").setLevel(logging.CRITICAL)
    app = create_app(settings)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    base = f"http://127.0.0.1:{port}"
    sockets: list[aiohttp.ClientWebSocketResponse] = []
    try:
        queue = app[HANDOFF].queue
        assert queue is not None
        accounts: Accounts = app[ACCOUNTS]
        agents = max(1, customers // 5)
        sessions: list[tuple[aiohttp.ClientSession, str]] = []
        for i in range(agents):
            await accounts.set_user(f"agent{i}", PASSWORD, ["agent"])
            await queue.upsert_agent(f"agent{i}", f"Agent {i}", ["support"], capacity=5)
            # The engine is on an IP address: aiohttp keeps cookies for IP hosts only when told to.
            http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
            login = await http.post(f"{base}/api/login", json={"username": f"agent{i}", "password": PASSWORD})
            sessions.append((http, (await login.json())["csrf"]))
            await queue.set_status(f"agent{i}", "online")

        arrived: dict[str, float] = {}
        conversations: list[tuple[str, int]] = []
        readers = []
        customer_http = aiohttp.ClientSession()

        async def read(ws: aiohttp.ClientWebSocketResponse) -> None:
            async for frame in ws:
                data = frame.json()
                if data.get("type") == "message" and data.get("role") == "agent":
                    arrived.setdefault(data["text"], time.perf_counter())

        for _ in range(customers):
            ws = await customer_http.ws_connect(f"{base}/webchat/ws", headers={"Origin": base})
            await ws.send_json({"type": "hello"})
            session = await ws.receive_json()
            sockets.append(ws)
            readers.append(asyncio.create_task(read(ws)))
            conversation = f"webchat:{session['visitor']}"
            await app[STATES].transition(conversation, Owner.QUEUED, actor="bench", reason="bench")
            await queue.enqueue(conversation, team="support")
            ticket = await queue.ticket(conversation)
            if ticket is None or not ticket.agent:
                raise RuntimeError("every customer should have been offered to an agent")
            agent_index = int(ticket.agent.removeprefix("agent"))
            assert await queue.accept(ticket.agent, conversation)
            conversations.append((conversation, agent_index))

        sent: dict[str, float] = {}
        statuses: list[int] = []

        async def reply(n: int) -> None:
            conversation, agent_index = conversations[n % len(conversations)]
            http, csrf = sessions[agent_index]
            text = f"reply {n} {uuid.uuid4().hex[:6]}"
            sent[text] = time.perf_counter()
            response = await http.post(
                f"{base}/api/agent/conversations/{conversation}/messages",
                json={"text": text},
                headers={"X-CSRF-Token": csrf},
            )
            statuses.append(response.status)

        tasks = []
        started = time.perf_counter()
        for n in range(replies):
            tasks.append(asyncio.create_task(reply(n)))
            await asyncio.sleep(max(0.0, started + (n + 1) / rate - time.perf_counter()))
        await asyncio.gather(*tasks)
        for _ in range(100):
            if len(arrived) >= len(sent):
                break
            await asyncio.sleep(0.05)
        delays = [arrived[t] - sent[t] for t in sent if t in arrived]
        ok = sum(1 for s in statuses if s == 200)
        print(
            f"5. agent reply → customer's web chat socket at {rate:.0f}/s ({replies} replies, {customers} "
            f"customers, {agents} agents, {ok} accepted by the API): {len(delays)}/{replies} delivered, "
            f"{percentiles(delays) if delays else 'none'}"
        )
        for task in readers:
            task.cancel()
        await customer_http.close()
        for http, _ in sessions:
            await http.close()
    finally:
        for ws in sockets:
            await ws.close()
        await drop_keys(app[REDIS], prefix)
        await runner.cleanup()


async def run(url: str, args: argparse.Namespace, var_dir: Path) -> None:
    """Run both phases."""
    for agents in (int(n) for n in args.agents.split(",")):
        await cycles(url, args.waiting, agents, args.capacity, args.seconds)
    await reply_delivery(url, args.customers, args.replies, args.rate, var_dir)


def main() -> None:
    """Parse flags and run against REDIS_URL or an embedded Redis."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--waiting", type=int, default=10_000)
    parser.add_argument("--agents", default="5,20,50,200", help="agent counts for phase 4, one run each")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each phase-4 run")
    parser.add_argument("--capacity", type=int, default=5)
    parser.add_argument("--customers", type=int, default=20)
    parser.add_argument("--replies", type=int, default=500)
    parser.add_argument("--rate", type=float, default=50.0)
    args = parser.parse_args()
    url = os.environ.get("REDIS_URL")
    with tempfile.TemporaryDirectory() as tmp:
        if url:
            redis_benchmark(url)
            asyncio.run(run(url, args, Path(tmp)))
            return
        with EmbeddedRedis(Path(tmp)) as embedded_url:
            redis_benchmark(embedded_url)
            asyncio.run(run(embedded_url, args, Path(tmp)))


if __name__ == "__main__":
    main()
